from tests.store.dbs import postgres_admin_url, postgres_url, sqlite_template

__all__ = ["postgres_admin_url", "postgres_url", "sqlite_template"]
