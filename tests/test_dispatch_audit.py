"""The dispatch audit: each kind of finding, at the right line; clean code reports nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from neuroattn.dispatch_audit import KINDS, audit_dispatch

HERE = Path(__file__).read_text().splitlines()


def line(marker: str) -> str:
    """``tests/test_dispatch_audit.py:N`` of the one line that ends with ``# marker``."""
    hits = [i + 1 for i, text in enumerate(HERE) if text.rstrip().endswith(f"# {marker}")]
    assert len(hits) == 1, marker
    return f"tests/test_dispatch_audit.py:{hits[0]}"


@pytest.fixture
def x():
    return torch.zeros(6, 5, device="meta")


def kinds_and_sites(report):
    return [(f.kind, f.site) for f in report.findings]


def test_clean_code_reports_no_finding(x):
    w = torch.zeros(5, 3, device="meta", requires_grad=True)
    with audit_dispatch() as report:
        y = (x[:, 1:4] @ w[1:4]) * 2.0 + torch.tensor(1.5)  # slices, Python and 0-d CPU scalars
        z = y[:, torch.arange(0, 3, 2, device="meta")]  # a device index is fine
        loss = (z.square().mean() + x[2, 3]).float()
        loss.backward()
    assert report.findings == []
    assert all(report.count(kind) == 0 for kind in KINDS)
    assert report.syncs == 0 and report.aten_ops > 10
    assert report.op_counts["aten.mm.default"] >= 2  # forward and the gradient of w
    assert w.grad is not None and w.grad.device.type == "meta"


def test_op_count_is_exact(x):
    with audit_dispatch() as report:
        (x + 1).sum()
    assert report.op_counts == {"aten.add.Tensor": 1, "aten.sum.default": 1}
    assert report.aten_ops == 2


def test_list_indexings(x):
    with audit_dispatch() as report:
        x[..., [1, 2]]  # list
        x[torch.tensor([0, 3])]  # cpu index
        x[:, np.array([0, 1])]  # numpy index
        x[[0, 1], 2] = 3.0  # setitem list
        x[torch.tensor([True, False, True, False, True, False])]  # cpu mask
    expected = [line(m) for m in ("list", "cpu index", "numpy index", "setitem list", "cpu mask")]
    assert kinds_and_sites(report) == [("list_indexings", site) for site in expected]
    assert report.list_indexings == 5 and report.host_to_device == 0  # no double count


def test_host_to_device_copies(x):
    batch = torch.ones(6, 5)
    with audit_dispatch(expected=[batch]) as report:
        torch.ones(6, 5).to("meta")  # to
        x.copy_(torch.ones(6, 5))  # copy_
        torch.tensor([1.0, 2.0], device="meta")  # tensor
        torch.as_tensor([1, 2], device="meta")  # as_tensor
        x.new_tensor([1.0, 2.0])  # new_tensor
        torch.ones(6, 5).to("meta", non_blocking=True)  # unpinned: blocks all the same
        batch.to("meta", non_blocking=True)
    expected = [line(m) for m in ("to", "copy_", "tensor", "as_tensor", "new_tensor",
                                  "unpinned: blocks all the same")]
    assert kinds_and_sites(report) == [("host_to_device", site) for site in expected]
    assert report.findings[0].detail == "120 bytes"
    assert report.findings[-1].detail == "120 bytes, non_blocking"
    assert report.host_to_device == report.blocking_host_to_device == report.syncs == 6
    assert report.expected_copies == 1


def test_scalar_reads_are_answered_and_counted(x):
    s = x.sum()
    with audit_dispatch() as report:
        values = [s.item(),  # item
                  float(s),  # float
                  bool(s > 0),  # bool
                  int(s.long())]  # int
        nonzero = torch.nonzero(x)  # nonzero
    assert values == [1.0, 1.0, True, 1]
    assert nonzero.shape == (30, 2) and nonzero.device.type == "meta"
    expected = [line(m) for m in ("item", "float", "bool", "int", "nonzero")]
    assert kinds_and_sites(report) == [("scalar_reads", site) for site in expected]
    assert report.syncs == 5


def test_device_to_host_copies(x):
    with audit_dispatch() as report:
        host = x[:2, :2].cpu()  # cpu
        as_list = x[0, :3].tolist()  # tolist
    assert host.device.type == "cpu" and host.tolist() == [[1.0, 1.0], [1.0, 1.0]]
    assert as_list == [1.0, 1.0, 1.0]
    assert kinds_and_sites(report) == [("device_to_host", line("cpu")),
                                       ("device_to_host", line("tolist"))]


def test_mixed_device_ops(x):
    with audit_dispatch() as report:
        x.index_select(1, torch.tensor([0, 1]))  # index_select
        with pytest.raises(RuntimeError):
            x + torch.ones(5)  # add
        x * torch.tensor(2.0)  # a 0-d CPU tensor is a legal scalar
    assert kinds_and_sites(report) == [("mixed_device", line("index_select")),
                                       ("mixed_device", line("add"))]


def test_site_is_the_innermost_project_frame(x):
    # Code compiled as if it lived in the package: its line is the site, not the caller's.
    namespace: dict = {}
    package_file = Path(__file__).parents[1] / "neuroattn" / "some_module.py"
    exec(compile("def peek(t):\n    u = t * 2\n    return u.sum().item()\n",
                 str(package_file), "exec"), namespace)
    with audit_dispatch() as report:
        namespace["peek"](x)
        assert 0.0 in x  # torch's frames skipped
    assert kinds_and_sites(report) == [("scalar_reads", "neuroattn/some_module.py:3"),
                                       ("scalar_reads", line("torch's frames skipped"))]


def test_report_views(x):
    with audit_dispatch() as report:
        for _ in range(3):
            x[:, [0, 1]]  # three
        float(x.sum())  # read
    assert report.by_site() == {line("three"): 3, line("read"): 1}
    assert report.by_site("scalar_reads") == {line("read"): 1}
    summary = report.summary()
    assert summary["list_indexings"] == 3 and summary["scalar_reads"] == 1
    assert summary["syncs"] == 1 and summary["aten_ops"] == report.aten_ops
    text = str(report)
    assert "list_indexings=3" in text and line("three") in text
    with pytest.raises(ValueError, match="Unknown finding kind"):
        report.by_site("launches")


def test_audit_ends_with_its_block(x):
    with pytest.raises(KeyError), audit_dispatch() as report:
        x.sum()
        raise KeyError("boom")
    assert report.op_counts == {"aten.sum.default": 1}
    _ = x.sum()  # outside: not recorded, and meta reads are not intercepted any more
    with pytest.raises(RuntimeError):
        x.sum().item()
    assert report.aten_ops == 1
