"""Domain errors of the catalog."""

from __future__ import annotations

from huibao.core.errors import Conflict, ValidationFailed


class VersionFrozen(Conflict):
    """A published or retired version is never edited: make a new draft with `new_version`."""

    code = "version_frozen"


class DraftExists(Conflict):
    code = "draft_exists"


class VersionNotPublishable(ValidationFailed):
    code = "version_not_publishable"


class ImportRejected(ValidationFailed):
    code = "import_rejected"
