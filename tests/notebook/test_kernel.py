"""The magics in a real kernel (nbclient) connected to a real ``plait api`` server over HTTP:
authoring, running, and every mistake shown inline — never a traceback."""

from __future__ import annotations

from pathlib import Path

from tests.notebook.conftest import ApiServer, free_port
from tests.notebook.nbrun import execute, html_of, notebook, text, views


def test_remote_workspace_from_cells(api_server: ApiServer, tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    nb = notebook(
        "%load_ext kernel_ext",
        f"%plait connect {dead} --key nope",
        "%plait connect http://127.0.0.1:1",
        f"%plait connect {api_server.url} --key {api_server.key}",
        "%%workflow greet --draft\nsteps:\n  - {id: hello, type: code}",
        '%%step greet.hello\nreturn {"hi": trigger["who"]}',
        "%%step greet.hello --type transform\n{{ 1 }}",
        "%%step greet.route --type switch\nrules: [unclosed\n",
        "%%step greet.bye --after nowhere\nreturn 1",
        "%%workflow greet\nsteps:\n  - {id: hello, type: code}",
        "%plait bogus",
        "%plait run greet --input '{bad json'",
        "%plait run greet --input $missing_variable",
        "%plait publish greet",
        '%plait run greet --input \'{"who": "Bo"}\' --wait',
        "%plait runs greet",
        "%plait show nosuchrun",
        "%plait approve",
        "%plait run greet --thread t1",
    )
    nb = execute(nb, tmp_path)
    for c in nb.cells:
        for o in c.outputs:
            assert o["output_type"] != "error" and "Traceback" not in str(o), c.source
    out = [text(html_of(c)) for c in nb.cells]
    assert "cannot reach the Plait server" in out[1] and "unreachable" in out[1]
    assert "needs an API key" in out[2]
    assert f"connected to remote workspace {api_server.url}" in out[3]
    assert "draft of 'greet' saved" in out[4] and "has no 'code' yet" in out[4]
    assert "step 'hello' of 'greet' saved" in out[5]
    assert "is a code step, not transform" in out[6] and "step_type_conflict" in out[6]
    yaml_error = html_of(nb.cells[7])
    assert "not saved" in yaml_error and 'class="bad"' in yaml_error and "yaml_syntax" in yaml_error
    assert "--after 'nowhere': no such step" in out[8]
    # not a draft: the missing code is an error; nothing is saved
    assert "Traceback" not in out[9] and "saved" not in out[9].replace("not saved", "")
    assert "unknown command 'bogus'" in out[10]
    assert "--input is not valid JSON" in out[11]
    assert "no variable 'missing_variable'" in out[12]
    assert "published as version 1" in out[13]
    [run] = views(nb, nb.cells[14])
    assert run.status == "succeeded" and "Bo" in run.result
    assert "succeeded" in out[15]
    assert "not found" in out[16]
    assert "no run view shown" not in out[17] and "no open request" in out[17]
    assert "--thread needs a local workspace" in out[18]
