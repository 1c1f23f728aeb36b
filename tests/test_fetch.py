"""Every download failure is one message that names the file and the URL, says what to do
instead, and keeps nothing: a refused connection, an HTTP error, a truncated body, Google
Drive's errors, a wrong digest. Servers are local (127.0.0.1), bounded, and stop with the test."""
import http.server
import socket
import threading

import pytest

from facegan.data.sources import fetch_official
from facegan.fetch import DataSourceError, download_file


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        if self.path == "/busy":
            self.send_error(503, "Service Unavailable")
            return
        self.send_response(200)
        self.send_header("Content-Length", "100")
        self.end_headers()
        self.wfile.write(b"x" * 10)  # then the connection closes: 10 of 100 bytes

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.HTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message and "Traceback" not in message
    return message


@pytest.mark.parametrize("path, reason", [("/busy", "Service Unavailable"), ("/truncated", "10 of 100 bytes")])
def test_an_http_error_or_a_truncated_body_is_one_message(server, tmp_path, path, reason):
    url = server + path
    with pytest.raises(DataSourceError) as error:
        download_file(url, tmp_path / "file.bin", None, instead="put file.bin in the cache by hand")
    message = _one_line(error)
    assert message.startswith(f"file.bin: cannot fetch it from {url}: ") and reason in message
    assert message.endswith("nothing was kept. Instead: put file.bin in the cache by hand")
    assert list(tmp_path.iterdir()) == []


def test_an_unreachable_host_is_one_message(tmp_path):
    url = f"http://127.0.0.1:{_closed_port()}/file.bin"
    with pytest.raises(DataSourceError) as error:
        download_file(url, tmp_path / "file.bin", None)
    assert f"file.bin: cannot fetch it from {url}: " in _one_line(error) and "refused" in str(error.value)
    assert list(tmp_path.iterdir()) == []


def test_google_drive_offline_is_one_message(tmp_path, monkeypatch):
    """gdown raises requests' errors (not RuntimeError) when Drive cannot be reached."""
    import requests
    import torchvision.datasets.utils

    def offline(*args, **kwargs):
        raise requests.exceptions.ConnectionError(
            "HTTPSConnectionPool(host='drive.google.com', port=443): Max retries exceeded\n(a long cause)")

    monkeypatch.setattr(torchvision.datasets.utils, "download_file_from_google_drive", offline)
    url = "https://drive.google.com/uc?id=0B7EVK8r0v71pZjFTYXZWM3FlRnM"
    with pytest.raises(DataSourceError) as error:
        download_file(url, tmp_path / "img_align_celeba.zip", None, instead="use a local copy")
    message = _one_line(error)
    assert message.startswith(f"img_align_celeba.zip: cannot fetch it from {url}: ConnectionError: ")
    assert "Max retries exceeded" in message and message.endswith("Instead: use a local copy")


def test_the_official_celeba_download_says_to_use_a_local_copy(server, tmp_path):
    with pytest.raises(DataSourceError) as error:
        fetch_official(tmp_path / "raw", {"list_attr_celeba.txt": (server + "/busy", None)})
    message = _one_line(error)
    assert "list_attr_celeba.txt: cannot fetch it from" in message
    assert "data.celeba.source: local and data.celeba.local_dir" in message
    assert not (tmp_path / "raw").exists()
