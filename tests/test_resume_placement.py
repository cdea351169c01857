"""Resume flags land where each trainer's parser reads them: every shipped profile's resume
argv goes through a reproduction of its script's argparse (tests/project_parsers.py) and the
checkpoint must come out in the attribute the script resumes from. A resume that would be
swallowed is refused when the profile loads, never launched."""

from __future__ import annotations

import argparse
import os

import pytest
import tomllib

from rdt_tui.config.profiles import Profile, ProfileError, list_profiles, load_profile

from .project_parsers import NO_RESUME, RESUME_READERS

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CKPT = "/home/u/GestureLSM/outputs/weights/shortcut_rvqvae_128/checkpoint_40"


def shipped() -> dict[str, Profile]:
    out = {}
    for name, profile in list_profiles([os.path.join(REPO, "configs", "runs")]):
        assert not isinstance(profile, ProfileError), profile
        out[name] = profile
    return out


def script_argv(profile: Profile, argv: list[str]) -> list[str]:
    """What the training script's own parser sees: the items after the script (DeepSpeed's
    launcher puts --local_rank first, as its launch.py does)."""
    with open(profile.path, "rb") as fh:
        script = tomllib.load(fh).get("script") or "rdt_tui.demo.train"  # demo: a command
    tail = argv[argv.index(script) + 1 :]
    return ["--local_rank=0", *tail] if profile.launcher == "deepspeed" else tail


def test_every_shipped_resume_is_read_by_the_scripts_parser() -> None:
    profiles = shipped()
    assert set(profiles) == set(RESUME_READERS) | set(NO_RESUME), "a profile to check"
    for name, (parser, attribute) in RESUME_READERS.items():
        profile = profiles[name]
        assert profile.resume_args, name
        fresh = profile.launch_args()["argv"]
        resumed = profile.launch_args({"resume": CKPT})["argv"]
        ns = parser().parse_args(script_argv(profile, resumed))
        assert getattr(ns, attribute) == CKPT, (name, resumed)
        # Everything else still reads as it does without the resume.
        before = vars(parser().parse_args(script_argv(profile, fresh)))
        after = vars(ns)
        after[attribute] = before[attribute]
        assert after == before, name
    gen = parser_ns("gesturelsm-gen", profiles)
    assert gen.overrides == ["data.train_bs=128"] and gen.config.endswith("128.yaml")


def parser_ns(name: str, profiles: dict[str, Profile]) -> argparse.Namespace:
    parser, _ = RESUME_READERS[name]
    profile = profiles[name]
    return parser().parse_args(script_argv(profile, profile.launch_args({"resume": CKPT})["argv"]))


def test_the_old_placement_is_swallowed_by_remainder() -> None:
    """Why the gesturelsm-gen profile resumes right after the script: at the end, the
    REMAINDER takes the flag and the run starts from scratch."""
    parser, _ = RESUME_READERS["gesturelsm-gen"]
    ns = parser().parse_args(["--config", "c.yaml", "data.train_bs=128", "--resume", CKPT])
    assert ns.resume is None and ns.overrides == ["data.train_bs=128", "--resume", CKPT]


@pytest.mark.parametrize("name", NO_RESUME)
def test_profiles_without_a_resume_refuse_one(name: str) -> None:
    profile = shipped()[name]
    with pytest.raises(ProfileError, match="cannot resume"):
        profile.launch_args({"resume": CKPT})


def write(tmp_path: object, text: str) -> str:
    path = os.path.join(str(tmp_path), "p.toml")
    with open(path, "w") as fh:
        fh.write(text)
    return path


GEN = 'launcher = "python"\nscript = "train.py"\nargs = ["--config", "c.yaml", "a.b=1"]\n'


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('resume_args = ["--resume", "{resume}"]\n', "would come after the override 'a.b=1'"),
        ('resume_args = ["--resume", "last"]\n', "must hold {resume}"),
        ('resume_args = ["--resume", "{resume}"]\nresume_at = "middle"\n', "resume_at"),
        ('resume_at = "script"\n', "without `resume_args`"),
    ],
)
def test_a_resume_that_cannot_be_placed_is_refused(
    tmp_path: object, extra: str, message: str
) -> None:
    with pytest.raises(ProfileError, match=message.replace("{", "\\{").replace("}", "\\}")):
        load_profile(write(tmp_path, GEN + extra))


def test_resume_at_script_and_end(tmp_path: object) -> None:
    at_script = load_profile(
        write(tmp_path, GEN + 'resume_args = ["--resume", "{resume}"]\nresume_at = "script"\n')
    )
    argv = at_script.launch_args({"resume": "/c"})["argv"]
    assert argv == ["python", "train.py", "--resume", "/c", "--config", "c.yaml", "a.b=1"]
    at_end = load_profile(
        write(tmp_path, GEN + 'resume_args = ["--resume={resume}"]\nresume_at = "end"\n')
    )
    assert at_end.launch_args({"resume": "/c"})["argv"][-1] == "--resume=/c"
    command = 'command = ["python", "t.py"]\nresume_args = ["--r", "{resume}"]\n'
    with pytest.raises(ProfileError, match="needs a `launcher`"):
        load_profile(write(tmp_path, command + 'resume_at = "script"\n'))
    assert load_profile(write(tmp_path, command)).launch_args({"resume": "/c"})["argv"] == [
        *("python", "t.py", "--r", "/c")
    ]
