"""Chainlit chat surface. Built in a later issue; uses only the public ``workspace`` facade."""
