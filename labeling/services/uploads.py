"""Batch files kept between tries of the admin's upload form, so a requester who previews
the cost or fixes another field does not choose the file again."""

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from ..batch_files import check_upload_size
from ..models import Requester, StagedUpload


@transaction.atomic
def stage_upload(*, requester: Requester, upload: UploadedFile) -> StagedUpload:
    """Keeps the file (FileTooLarge above the upload limit) and drops expired ones."""
    check_upload_size(upload)
    StagedUpload.objects.filter(created_at__lt=timezone.now() - StagedUpload.LIFETIME).delete()
    return StagedUpload.objects.create(
        requester=requester,
        # The end of a long name, so the extension that says JSONL or CSV stays.
        name=(upload.name or "batch.jsonl")[-255:],
        content=upload.read(),
    )


@transaction.atomic
def discard_upload(*, upload: StagedUpload) -> None:
    StagedUpload.objects.filter(id=upload.id).delete()
