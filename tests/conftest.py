"""The fixtures every test folder shares live in the `fixtures` package (see its docstring)."""

pytest_plugins = [
    "fixtures.gateway",
    "fixtures.shell",
    "fixtures.kernels",
    "fixtures.loopback_proxy",
]
