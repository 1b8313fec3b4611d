"""Bad input to the sandbox's own API gets a clear error or status, never a crash."""

import pytest

from potcot.sandbox import Sandbox


@pytest.mark.parametrize("code", [None, b"print(1)", 42, ["print(1)"]], ids=["None", "bytes", "int", "list"])
def test_code_that_is_not_a_string_is_a_type_error(healthy: Sandbox, code: object) -> None:
    with pytest.raises(TypeError, match="code must be a str"):
        healthy.run(code)  # type: ignore[arg-type]


def test_nul_characters(healthy: Sandbox) -> None:
    result = healthy.run("print(1)\x00print(2)")
    assert (result.status, result.error) == ("syntax_error", "program contains NUL characters")


def test_megabytes_of_code(healthy: Sandbox) -> None:
    result = healthy.run("x = 1\n" * 1_000_000)
    assert result.status == "forbidden"
    assert result.error == "program has 6,000,000 characters; the limit is 65,536"


def test_lone_surrogates(healthy: Sandbox) -> None:
    assert healthy.run("print('\ud800')").status == "syntax_error"


def test_empty_program(healthy: Sandbox) -> None:
    result = healthy.run("")
    assert (result.status, result.answer) == ("ok", None)


@pytest.mark.parametrize("timeout", [0, -1, 10_000, "5", True, float("nan")])
def test_invalid_timeout(healthy: Sandbox, timeout: object) -> None:
    with pytest.raises(ValueError, match="timeout must be"):
        healthy.run("print(1)", timeout=timeout)  # type: ignore[arg-type]


def test_run_many_with_one_bad_program(healthy: Sandbox) -> None:
    results = healthy.run_many(["print(1)", "1 / 0", "x = (", "print(3)"])
    assert [result.status for result in results] == ["ok", "runtime_error", "syntax_error", "ok"]
