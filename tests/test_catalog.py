"""The `minicnn gradcheck` table: every entry passes, and the planted bug is caught."""
from minicnn.testing.catalog import CATALOG, run_catalog


def test_every_catalogue_entry_passes_and_the_planted_bug_fails():
    lines = []
    rows = run_catalog(planted_bug=True, out=lines.append)
    failed = [name for name, group, _, ok in rows if not ok]
    assert failed == ["planted bug (x^2, backward forgets the 2)"], "\n".join(lines)
    assert len(rows) == len(CATALOG) + 1
    assert lines[-1] == f"{len(CATALOG)} passed, 1 failed"


def test_the_catalogue_covers_the_layers_and_attention_modules():
    groups = {group for group, _ in CATALOG.values()}
    assert {"ops", "activations", "conv", "pooling", "norm", "losses", "attention"} <= groups
    for name in ("conv2d", "conv_transpose2d", "max_pool2d", "batch_norm train", "SE", "ECA", "CBAM",
                 "BAM sum", "BAM product", "SK", "PAM", "CAM paper", "CAM official", "AttentionGate"):
        assert name in CATALOG
