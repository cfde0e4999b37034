"""Rating errors: a bad pricing spec, a rejected quote, a failure while evaluating a step."""

from __future__ import annotations

from collections.abc import Sequence

from huibao.core.errors import DomainError, FieldError, ValidationFailed


class SpecError(DomainError):
    """A pricing spec that cannot be compiled; `position` is the 0-based column in the formula,
    `step` the step (or table/input) it concerns."""

    code = "spec_error"
    http_status = 422

    def __init__(self, message: str, *, position: int | None = None, step: str | None = None) -> None:
        super().__init__(message)
        self.position = position
        self.step = step

    def __str__(self) -> str:
        return f"[{self.step}] {self.message}" if self.step else self.message


class QuoteRejected(ValidationFailed):
    """The inputs cannot be priced; `errors` lists every problem found, one per field and rule."""

    code = "quote_rejected"

    def __init__(self, errors: Sequence[FieldError], message: str = "投保信息不符合产品要求") -> None:
        super().__init__(message, errors=list(errors))


class MissingFactor(Exception):
    """Raised by a table lookup with no entry; the engine turns it into a `missing_factor` error."""

    def __init__(self, table: str, label: str, keys: Sequence[str], key: str) -> None:
        super().__init__(f"{table}: no entry for {key}")
        self.table = table
        self.label = label
        self.keys = tuple(keys)
        self.key = key

    def field_error(self) -> FieldError:
        field = f"inputs.{self.keys[0]}" if len(self.keys) == 1 else "inputs"
        return FieldError(
            field,
            "missing_factor",
            f"费率表“{self.label}”（{self.table}）中没有 {'|'.join(self.keys)} = {self.key} 的系数，无法报价",
        )


class RatingError(DomainError):
    """A step failed on these inputs (division by zero, overflow): a spec defect, named by step."""

    code = "rating_error"
    http_status = 422
