"""The offline-readiness scan finds what would need the network in the challenge."""

from __future__ import annotations

from pathlib import Path

import pytest

from wizard.offline import scan, scan_source

SOURCE = '''
import torch
import torchvision
import requests
from torchvision.models import resnet50, ResNet50_Weights


class a(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.net = torch.hub.load("facebookresearch/WSL-Images", "resnext101_32x48d_wsl")


def b():
    return resnet50(pretrained=True)


def c():
    return resnet50(weights=ResNet50_Weights.DEFAULT)


def d():
    return AutoModel.from_pretrained("bert-base")


def e():
    torch.hub.load_state_dict_from_url("https://example.org/w.pth")


def fine():
    return resnet50(weights=None), resnet50(pretrained=False)
'''


def test_every_network_use_is_found_with_its_line(tmp_path: Path) -> None:
    findings = scan_source(SOURCE, tmp_path / "model_description.py")
    found = {(f.line, f.what.split(" ")[0]) for f in findings}
    assert (4, "imports") in found
    assert any(line == 11 and "torch.hub.load" in f.what for f in findings
               for line in [f.line])
    whats = " | ".join(f.what for f in findings)
    for expected in ("pretrained=...", "weights=...", "from_pretrained()",
                     "load_state_dict_from_url()", "https://example.org/w.pth"):
        assert expected in whats
    assert not any(f.line >= 37 for f in findings), "weights=None / pretrained=False are fine"
    assert all(f.fix for f in findings)


def test_clean_model_folder_has_no_findings(repo_root: Path) -> None:
    assert scan(repo_root / "model") == []


def test_a_file_that_does_not_parse_is_a_finding(tmp_path: Path) -> None:
    (tmp_path / "model_description.py").write_text("def broken(:\n")
    (finding,) = scan(tmp_path)
    assert "syntax error" in finding.what and finding.line == 1


@pytest.mark.parametrize("snippet", ["urllib.request.urlopen('http://x/y')",
                                     "hf_hub_download('repo', 'f.bin')"])
def test_download_calls(tmp_path: Path, snippet: str) -> None:
    assert scan_source(snippet + "\n", tmp_path / "m.py")
