"""`netsword keys init` and `keys show`: the unit's signing key (:mod:`pipelines.evidence.keys`)."""

from __future__ import annotations

import click

from netsword import config

from .keys import KeyFiles, init_keys, load_unit_public
from .signing import ALGORITHMS, ED25519, KeyFileError


def _folder(keys_dir: str | None) -> KeyFiles:
    return KeyFiles(config.current(keys_dir=keys_dir).keys_dir)


@click.group()
def keys() -> None:
    """本单位签名密钥 / the unit's signing key (signs sweep manifests and evidence bundles)."""


@keys.command("init")
@click.option("--algorithm", type=click.Choice(ALGORITHMS), default=ED25519, show_default=True,
              help="ed25519, or sm2 (SM2/SM3, needs pip install 'netsword[sm2]')")
@click.option("--force", is_flag=True, help="replace an existing key (evidence it signed needs the old public key)")
@click.option("--keys-dir", default=None, help="key folder (default: keys_dir, $NETSWORD_KEYS_DIR or <home>/keys)")
def keys_init(algorithm: str, force: bool, keys_dir: str | None) -> None:
    """生成本单位密钥对 / make the unit's key pair (private key mode 600; refuses to overwrite without --force)."""
    files = _folder(keys_dir)
    try:
        key = init_keys(files.folder, algorithm, force=force)
    except FileExistsError as exc:
        raise click.ClickException(str(exc)) from exc
    except KeyFileError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"私钥 / private key: {files.private} (600)")
    click.echo(f"公钥 / public key:  {files.public}")
    click.echo(f"算法 / algorithm:   {key.public.label}")
    click.echo(f"指纹 / fingerprint: {key.public.fingerprint}")
    click.echo("把公钥交给需要核验证据的单位（netsword keys show）/ give the public key to whoever checks the "
               "evidence (netsword keys show)")


@keys.command("show")
@click.option("--keys-dir", default=None, help="key folder (default: keys_dir, $NETSWORD_KEYS_DIR or <home>/keys)")
def keys_show(keys_dir: str | None) -> None:
    """显示本单位公钥及其指纹 / print the unit's public key (PEM) and its fingerprint."""
    files = _folder(keys_dir)
    try:
        public = load_unit_public(files.folder)
    except (OSError, KeyFileError) as exc:
        raise click.ClickException(str(exc)) from exc
    if public is None:
        raise click.ClickException(f"没有本单位密钥：{files.folder}（netsword keys init）/ no unit key in "
                                   f"{files.folder} (netsword keys init)")
    click.echo(f"算法 / algorithm:   {public.label}")
    click.echo(f"指纹 / fingerprint: {public.fingerprint}")
    click.echo(f"文件 / file:        {files.public}")
    click.echo(public.pem().decode("ascii"), nl=False)
