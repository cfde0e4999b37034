"""Status transition tables of the catalog, checked by `huibao.core.states.check_transition`.

A version goes draft → published → retired and never back: a published version is frozen, so
quotes and policies keep pointing at what was shown. A product is a draft until its first version
is published, then on sale; operators may take it off sale and put it back on sale.
"""

from __future__ import annotations

from huibao.catalog.models import ProductStatus, VersionStatus

VERSION_TRANSITIONS: dict[str, frozenset[str]] = {
    VersionStatus.DRAFT: frozenset({VersionStatus.PUBLISHED}),
    VersionStatus.PUBLISHED: frozenset({VersionStatus.RETIRED}),
    VersionStatus.RETIRED: frozenset(),
}

PRODUCT_TRANSITIONS: dict[str, frozenset[str]] = {
    ProductStatus.DRAFT: frozenset({ProductStatus.ON_SALE}),
    ProductStatus.ON_SALE: frozenset({ProductStatus.OFF_SALE}),
    ProductStatus.OFF_SALE: frozenset({ProductStatus.ON_SALE}),
}
