"""``zdrgate egress-proxy`` and ``zdrgate deploy egress-hosts``: egress limited to the
provider hosts the configured catalog can route to (docs/deploy.md, "Egress").

Both compute the list from the same config (:mod:`zdrgate.egress`), so the proxy's
allowlist and what an operator reviews or feeds to an FQDN policy are the same hosts.
"""

from __future__ import annotations

import asyncio
import logging

import click
import orjson

from zdrgate.cli_proofs import config_option, settings_of
from zdrgate.egress import direct_origins, egress_hosts
from zdrgate.errors import ConfigError

_KEYS_HELP = (
    "Only providers whose key is in this environment (default: assume every provider's "
    "key is present, as it is in the Secret the pods get)."
)


@click.command("egress-proxy")
@config_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", type=int, default=3128, show_default=True, help="Port to bind.")
@click.option("--keys-from-env", is_flag=True, help=_KEYS_HELP)
def egress_proxy(config: str | None, host: str, port: int, keys_from_env: bool) -> None:
    """Run a CONNECT-only egress proxy for the configured provider hosts only."""
    from zdrgate.upstream.egress import serve_forever  # noqa: PLC0415

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    allowed = _hosts(config, keys_from_env)
    click.echo(f"egress proxy on {host}:{port} for {len(allowed)} hosts", err=True)
    asyncio.run(serve_forever(allowed, host, port))


@click.group()
def deploy() -> None:
    """Helpers for deployments (docs/deploy.md)."""


@deploy.command("egress-hosts")
@config_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["list", "json", "cilium"]),
    default="list",
    show_default=True,
    help="host:port lines, JSON, or a CiliumNetworkPolicy (toFQDNs) for the gateway pods.",
)
@click.option("--keys-from-env", is_flag=True, help=_KEYS_HELP)
def egress_hosts_command(config: str | None, fmt: str, keys_from_env: bool) -> None:
    """The https hosts the gateway may call: what `zdrgate egress-proxy` allows."""
    hosts = _hosts(config, keys_from_env)
    settings = settings_of(config)
    for origin in direct_origins(settings, assume_keys=not keys_from_env):
        click.echo(
            f"plain-http upstream, connected directly (not by the proxy): {origin}", err=True
        )
    if fmt == "json":
        click.echo(orjson.dumps([f"{h}:{p}" for h, p in hosts]).decode())
    elif fmt == "cilium":
        click.echo(orjson.dumps(cilium_policy(hosts), option=orjson.OPT_INDENT_2).decode())
    else:
        for host, port in hosts:
            click.echo(f"{host}:{port}")


def _hosts(config: str | None, keys_from_env: bool) -> list[tuple[str, int]]:
    try:
        return egress_hosts(settings_of(config), assume_keys=not keys_from_env)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def cilium_policy(hosts: list[tuple[str, int]]) -> dict[str, object]:
    """For clusters on Cilium: the gateway pods may reach these names only (no proxy)."""
    ports = sorted({port for _, port in hosts})
    return {
        "apiVersion": "cilium.io/v2",
        "kind": "CiliumNetworkPolicy",
        "metadata": {"name": "zdrgate-provider-egress"},
        "spec": {
            "endpointSelector": {"matchLabels": {"app.kubernetes.io/component": "gateway"}},
            "egress": [
                {
                    "toEndpoints": [
                        {
                            "matchLabels": {
                                "k8s:io.kubernetes.pod.namespace": "kube-system",
                                "k8s:k8s-app": "kube-dns",
                            }
                        }
                    ],
                    "toPorts": [
                        {
                            "ports": [{"port": "53", "protocol": "ANY"}],
                            "rules": {"dns": [{"matchPattern": "*"}]},
                        }
                    ],
                },
                {
                    "toFQDNs": [{"matchName": host} for host, _ in hosts],
                    "toPorts": [{"ports": [{"port": str(p), "protocol": "TCP"} for p in ports]}],
                },
            ],
        },
    }
