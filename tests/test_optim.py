"""Optimisers and schedulers against torch.optim: same parameters, same gradients, same trajectory."""
import numpy as np
import pytest
import torch

import minicnn
from minicnn import nn, optim
from minicnn.optim import lr_scheduler

SHAPES = [(3, 4), (4,), (2, 1, 3)]
STEPS = 5

CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.5, maximize=True)),
    ("Adam", dict()),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.05)),
    ("Adam", dict(lr=0.02, maximize=True, amsgrad=True)),
    ("AdamW", dict()),
    ("AdamW", dict(lr=0.01, weight_decay=0.3, amsgrad=True)),
    ("AdamW", dict(lr=0.01, betas=(0.5, 0.9), weight_decay=0.0)),
]


def _make(rng, dtype=np.float64):
    values = [rng.normal(size=s).astype(dtype) for s in SHAPES]
    ours = [nn.Parameter(minicnn.tensor(v)) for v in values]
    theirs = [torch.nn.Parameter(torch.tensor(v)) for v in values]
    return ours, theirs


def _set_grads(ours, theirs, rng, skip=None):
    for i, (p, q) in enumerate(zip(ours, theirs)):
        if i == skip:
            p.grad, q.grad = None, None
            continue
        g = rng.normal(size=p.shape).astype(p.dtype)
        p.grad = minicnn.tensor(g)
        q.grad = torch.tensor(g)


def _assert_same(ours, theirs, rtol=1e-12, atol=1e-14):
    for i, (p, q) in enumerate(zip(ours, theirs)):
        np.testing.assert_allclose(p.numpy(), q.detach().numpy(), rtol=rtol, atol=atol,
                                   err_msg=f"parameter {i} differs from torch")


@pytest.mark.parametrize("name,options", CONFIGS, ids=[f"{n}-{sorted(o.items())}" for n, o in CONFIGS])
def test_optimizer_matches_torch(name, options):
    rng = np.random.default_rng(0)
    ours, theirs = _make(rng)
    mine, ref = getattr(optim, name)(ours, **options), getattr(torch.optim, name)(theirs, **options)
    for step in range(STEPS):
        # parameter 1 has no gradient at step 2: both must skip it (and keep its state)
        _set_grads(ours, theirs, rng, skip=1 if step == 2 else None)
        mine.step()
        ref.step()
        _assert_same(ours, theirs)


def test_param_groups_with_their_own_options_match_torch():
    rng = np.random.default_rng(1)
    ours, theirs = _make(rng)

    def groups(ps):
        return [{"params": ps[:2]}, {"params": ps[2:], "lr": 0.5, "momentum": 0.0, "weight_decay": 0.2}]

    mine = optim.SGD(groups(ours), lr=0.1, momentum=0.9, nesterov=False)
    ref = torch.optim.SGD(groups(theirs), lr=0.1, momentum=0.9)
    for _ in range(STEPS):
        _set_grads(ours, theirs, rng)
        mine.step()
        ref.step()
    _assert_same(ours, theirs)
    assert [g["lr"] for g in mine.param_groups] == [0.1, 0.5]


def test_training_a_model_matches_torch():
    """Gradients from backward through a model, Adam updates, five steps: the same weights as torch."""
    rng = np.random.default_rng(2)
    model = nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 2))
    ref = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.ReLU(), torch.nn.Linear(5, 2)).double()
    model.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    model.double()
    mine, theirs = optim.Adam(model.parameters(), lr=0.05), torch.optim.Adam(ref.parameters(), lr=0.05)
    x, y = rng.normal(size=(8, 3)), rng.normal(size=(8, 2))
    for _ in range(STEPS):
        mine.zero_grad()
        theirs.zero_grad()
        minicnn.functional.mse_loss(model(minicnn.tensor(x)), minicnn.tensor(y)).backward()
        torch.nn.functional.mse_loss(ref(torch.tensor(x)), torch.tensor(y)).backward()
        mine.step()
        theirs.step()
    for name, p in ref.named_parameters():
        np.testing.assert_allclose(model.state_dict()[name], p.detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name,options", [("SGD", dict(lr=0.1, momentum=0.9, weight_decay=0.1)),
                                          ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1)),
                                          ("AdamW", dict(lr=0.01))])
def test_updates_keep_dtype_and_backend(backend, name, options):
    """float32 stays float32, strict arrays stay strict, and every backend gives the same numbers."""
    rng = np.random.default_rng(3)
    values = [rng.normal(size=s).astype(np.float32) for s in SHAPES]
    grads = [[rng.normal(size=s).astype(np.float32) for s in SHAPES] for _ in range(3)]
    params = [nn.Parameter(minicnn.tensor(v)) for v in values]
    opt = getattr(optim, name)(params, **options)
    with minicnn.backend.use_backend("numpy"):
        host = [nn.Parameter(minicnn.tensor(v)) for v in values]
        host_opt = getattr(optim, name)(host, **options)
    for step_grads in grads:
        for p, h, g in zip(params, host, step_grads):
            p.grad = minicnn.tensor(g)
            with minicnn.backend.use_backend("numpy"):
                h.grad = minicnn.tensor(g)
        opt.step()
        host_opt.step()
    for p, h in zip(params, host):
        assert p.dtype == np.float32 and p.backend == backend
        np.testing.assert_allclose(p.numpy(), h.numpy(), rtol=1e-6)
    for state in opt.state.values():
        for key, value in state.items():
            if key != "step":
                assert value.dtype == np.float32 and minicnn.backend.backend_of_array(value) == backend


def test_a_gradient_on_another_device_is_refused():
    p = nn.Parameter(minicnn.tensor(np.ones(3)))
    with minicnn.backend.use_backend("strict"):
        p.grad = minicnn.tensor(np.ones(3))
    with pytest.raises(minicnn.backend.BackendError, match="gradient is a strict array"):
        optim.SGD([p], lr=0.1).step()


def test_zero_grad():
    p = nn.Parameter(minicnn.tensor(np.ones(3)))
    opt = optim.SGD([p], lr=0.1)
    p.grad = minicnn.tensor(np.full(3, 2.0))
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(p.grad.numpy(), np.zeros(3))
    opt.zero_grad()
    assert p.grad is None


@pytest.mark.parametrize("name,options", [("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
                                          ("Adam", dict(lr=0.01, amsgrad=True)),
                                          ("AdamW", dict(lr=0.01, weight_decay=0.2))])
def test_resume_from_a_checkpoint_continues_the_same_trajectory(tmp_path, name, options):
    rng = np.random.default_rng(4)
    grads = [[rng.normal(size=s) for s in SHAPES] for _ in range(6)]
    ours, theirs = _make(rng)
    straight = getattr(optim, name)(ours, **options)
    ref = getattr(torch.optim, name)(theirs, **options)

    def run(opt, params, step_grads):
        for p, g in zip(params, step_grads):
            p.grad = minicnn.tensor(g)
        opt.step()

    for g in grads[:3]:
        run(straight, ours, g)
    for p, g in zip(theirs, grads[0]):
        p.grad = torch.tensor(g)
    ref.step()
    sd = straight.state_dict()
    # torch's layout: the same state keys per parameter and the same group entries
    tsd = ref.state_dict()
    assert set(sd["state"]) == set(tsd["state"])
    assert set(sd["state"][0]) == set(tsd["state"][0])
    assert sd["param_groups"][0]["params"] == tsd["param_groups"][0]["params"]
    minicnn.save({"optimizer": sd, "params": [p.data for p in ours]}, tmp_path / "ckpt.npz")

    for g in grads[3:]:
        run(straight, ours, g)
    checkpoint = minicnn.load(tmp_path / "ckpt.npz")
    resumed_params = [nn.Parameter(minicnn.tensor(a)) for a in checkpoint["params"]]
    resumed = getattr(optim, name)(resumed_params, lr=123.0)  # the checkpoint's lr wins
    resumed.load_state_dict(checkpoint["optimizer"])
    assert resumed.param_groups[0]["lr"] == options["lr"]
    for g in grads[3:]:
        run(resumed, resumed_params, g)
    for a, b in zip(ours, resumed_params):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_load_a_torch_optimizer_state_dict():
    """torch's state (step as a tensor, torch tensors) loads and the next steps agree."""
    rng = np.random.default_rng(5)
    ours, theirs = _make(rng)
    ref = torch.optim.Adam(theirs, lr=0.01)
    for _ in range(3):
        _set_grads(ours, theirs, rng)
        ref.step()
    for p, q in zip(ours, theirs):
        p.data = q.detach().numpy().copy()
    mine = optim.Adam(ours, lr=0.01)
    mine.load_state_dict(ref.state_dict())
    assert mine.state[ours[0]]["step"] == 3
    for _ in range(2):
        _set_grads(ours, theirs, rng)
        mine.step()
        ref.step()
    _assert_same(ours, theirs)


def test_bad_arguments_raise_clear_errors():
    p = nn.Parameter(minicnn.tensor(np.ones(2)))
    with pytest.raises(ValueError, match="SGD: Invalid learning rate: -1"):
        optim.SGD([p], lr=-1)
    with pytest.raises(ValueError, match="Nesterov momentum requires a momentum"):
        optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="Adam: Invalid beta parameter at index 1: 1.0"):
        optim.Adam([p], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.Adam([])
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [p]}, {"params": [p]}], lr=0.1)
    with pytest.raises(ValueError, match="doesn't require gradients"):
        optim.SGD([minicnn.tensor(np.ones(2))], lr=0.1)
    with pytest.raises(TypeError, match="single tensor"):
        optim.SGD(p, lr=0.1)
    q = nn.Parameter(minicnn.tensor(np.ones(2)))
    two_groups = optim.SGD([{"params": [p]}, {"params": [q]}], lr=0.1).state_dict()
    with pytest.raises(ValueError, match="2 parameter groups, this optimizer has 1"):
        optim.SGD([p, q], lr=0.1).load_state_dict(two_groups)


def test_repr_lists_the_groups():
    text = repr(optim.AdamW([nn.Parameter(minicnn.tensor(np.ones(2)))]))
    assert text.startswith("AdamW (\nParameter Group 0\n") and "weight_decay: 0.01" in text


# --------------------------------------------------------------------------- schedulers
SCHEDULERS = [
    ("StepLR", dict(step_size=3, gamma=0.5)),
    ("StepLR", dict(step_size=7)),
    ("MultiStepLR", dict(milestones=[5, 10, 10, 21], gamma=0.3)),
    ("CosineAnnealingLR", dict(T_max=10)),
    ("CosineAnnealingLR", dict(T_max=7, eta_min=0.01)),
]


def _optimizers():
    ours = [nn.Parameter(minicnn.tensor(np.ones(2))), nn.Parameter(minicnn.tensor(np.ones(3)))]
    theirs = [torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(3))]

    def groups(ps):
        return [{"params": ps[:1]}, {"params": ps[1:], "lr": 0.3}]

    return (optim.SGD(groups(ours), lr=0.1, momentum=0.9),
            torch.optim.SGD(groups(theirs), lr=0.1, momentum=0.9))


@pytest.mark.parametrize("name,options", SCHEDULERS, ids=[f"{n}-{sorted(o.items())}" for n, o in SCHEDULERS])
def test_scheduler_matches_torch_over_many_epochs(name, options):
    mine_opt, ref_opt = _optimizers()
    mine = getattr(lr_scheduler, name)(mine_opt, **options)
    ref = getattr(torch.optim.lr_scheduler, name)(ref_opt, **options)
    assert mine.get_last_lr() == ref.get_last_lr()
    for epoch in range(35):  # past T_max: the cosine comes back up, as in torch
        mine_opt.step()
        ref_opt.step()
        mine.step()
        ref.step()
        np.testing.assert_allclose(mine.get_last_lr(), ref.get_last_lr(), rtol=1e-13, atol=1e-16,
                                   err_msg=f"epoch {epoch + 1}")
        assert [g["lr"] for g in mine_opt.param_groups] == mine.get_last_lr()
        # the recursion equals the closed form
        np.testing.assert_allclose(mine._get_closed_form_lr(), mine.get_last_lr(), rtol=1e-10, atol=1e-15)


def test_scheduler_state_dict_resumes(tmp_path):
    opt, _ = _optimizers()
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=12, eta_min=0.001)
    for _ in range(5):
        sched.step()
    minicnn.save({"optimizer": opt.state_dict(), "scheduler": sched.state_dict()}, tmp_path / "s.npz")
    expected = []
    for _ in range(10):
        sched.step()
        expected.append(sched.get_last_lr())
    checkpoint = minicnn.load(tmp_path / "s.npz")
    opt2, _ = _optimizers()
    sched2 = lr_scheduler.CosineAnnealingLR(opt2, T_max=12, eta_min=0.001)
    opt2.load_state_dict(checkpoint["optimizer"])
    sched2.load_state_dict(checkpoint["scheduler"])
    got = []
    for _ in range(10):
        sched2.step()
        got.append(sched2.get_last_lr())
    np.testing.assert_allclose(got, expected, rtol=1e-15)


def test_scheduler_errors():
    opt, _ = _optimizers()
    with pytest.raises(TypeError, match="is not an Optimizer"):
        lr_scheduler.StepLR(object(), step_size=2)
    with pytest.raises(ValueError, match="milestones must be increasing"):
        lr_scheduler.MultiStepLR(opt, milestones=[5, 2])
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(opt, step_size=2, last_epoch=4)
