"""Model instances from hand-written SQL, for the few statements on every hot request.

The ORM spends milliseconds building a statement such as the task claim; on the rating
loop that is most of a request. Those statements are written once as SQL (each app keeps
its own next to its services, in `<app>/sql.py`), and their rows become ordinary model
instances here, with the same conversions the ORM applies. Table and column names come
from the models' `_meta`; datetimes in parameters are adapted here, as the ORM adapts them.

Like `QuerySet.update()`, nothing here sends save signals; `insert` refuses a model that
has save receivers, so a receiver added later cannot silently miss rows written here.
"""

from collections.abc import Callable, Sequence
from datetime import datetime
from functools import cache
from typing import Any, TypeVar

from django.db import connection
from django.db.models import Model
from django.db.models.signals import post_save, pre_save

M = TypeVar("M", bound=Model)
MAX_ID = 2**63 - 1  # the largest id a BigAutoField holds; larger ones name no row
Params = Sequence[Any] | dict[str, Any]


def table(model: type[Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def columns(model: type[Model], alias: str) -> str:
    """The select list of every concrete column of `model`, as `from_row` reads them."""
    return ", ".join(f'{alias}."{field.column}"' for field in model._meta.concrete_fields)


@cache
def _converters(model: type[Model], vendor: str) -> list[tuple[int, Any, list[Callable[..., Any]]]]:
    """(column index, expression, converters) for the columns that need converting."""
    result = []
    for i, field in enumerate(model._meta.concrete_fields):
        expression = field.get_col(model._meta.db_table)
        converters = connection.ops.get_db_converters(expression) + expression.get_db_converters(
            connection
        )
        if converters:
            result.append((i, expression, converters))
    return result


def from_row(model: type[M], row: Sequence[Any], start: int = 0) -> tuple[M | None, int]:
    """The instance stored at row[start:], or None for a LEFT JOIN that matched nothing;
    and where the next model's columns begin."""
    fields = model._meta.concrete_fields
    end = start + len(fields)
    values = list(row[start:end])
    if values[fields.index(model._meta.pk)] is None:
        return None, end
    for i, expression, converters in _converters(model, connection.vendor):
        for convert in converters:
            values[i] = convert(values[i], expression, connection)
    return model.from_db(connection.alias, None, values), end


def _adapt(value: Any) -> Any:
    if isinstance(value, datetime):
        return connection.ops.adapt_datetimefield_value(value)
    return value


def _adapted(params: Params) -> Params:
    if isinstance(params, dict):
        return {key: _adapt(value) for key, value in params.items()}
    return [_adapt(value) for value in params]


def fetch(sql: str, params: Params) -> tuple[Any, ...] | None:
    with connection.cursor() as cursor:
        cursor.execute(sql, _adapted(params))
        return cursor.fetchone()


def fetch_all(sql: str, params: Params) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, _adapted(params))
        return cursor.fetchall()


def execute(sql: str, params: Params) -> int:
    """Runs a write; returns how many rows it changed."""
    with connection.cursor() as cursor:
        cursor.execute(sql, _adapted(params))
        return cursor.rowcount


@cache
def _insert_fields(model: type[Model]) -> tuple[list[Any], bool]:
    """The fields an INSERT of `model` writes (all but an automatic id), and whether the id
    is automatic."""
    meta = model._meta
    auto = meta.pk.get_internal_type().endswith("AutoField")
    return [field for field in meta.concrete_fields if not (auto and field is meta.pk)], auto


def _insert_parts(instance: Model) -> tuple[list[Any], list[Any], bool]:
    """The fields an INSERT writes, their values prepared as `save()` prepares them, and
    whether the id is automatic. Refuses models with save receivers: nothing here sends
    signals, and a receiver must not miss a row."""
    model = type(instance)
    if pre_save.has_listeners(model) or post_save.has_listeners(model):
        raise TypeError(f"{model.__name__} has save receivers: save it with the ORM.")
    fields, auto = _insert_fields(model)
    values = [
        field.get_db_prep_save(field.pre_save(instance, True), connection) for field in fields
    ]
    return fields, values, auto


def _saved(instance: M) -> M:
    instance._state.adding, instance._state.db = False, connection.alias
    return instance


def insert(instance: M) -> M:
    """Saves a new instance in one INSERT (… RETURNING its id when the id is automatic)."""
    model = type(instance)
    fields, values, auto = _insert_parts(instance)
    names = ", ".join(f'"{field.column}"' for field in fields)
    sql = f"INSERT INTO {table(model)} ({names}) VALUES ({', '.join(['%s'] * len(fields))})"
    if auto:
        instance.pk = fetch(sql + f' RETURNING "{instance._meta.pk.column}"', values)[0]  # type: ignore[index]
    else:
        execute(sql, values)
    return _saved(instance)


@cache
def _insert_select(model: type[Model], vendor: str) -> str:
    """`INSERT … SELECT <the new row's values> FROM changed RETURNING id` for `insert_if`."""
    fields, _ = _insert_fields(model)
    names = ", ".join(f'"{field.column}"' for field in fields)
    # Typed placeholders: in a select list PostgreSQL would read an untyped NULL as text.
    typed = ", ".join(f"CAST(%s AS {field.cast_db_type(connection)})" for field in fields)
    return (
        f"INSERT INTO {table(model)} ({names}) SELECT {typed} FROM changed"
        f' RETURNING "{model._meta.pk.column}"'
    )


def insert_if(instance: M, *, changed: str, params: Params) -> bool:
    """PostgreSQL only: saves a new instance (with an automatic id) only if the
    data-modifying statement `changed` (an UPDATE … RETURNING) changed a row, both in one
    statement, so atomic without a transaction of its own. False, nothing written, if not."""
    _, values, _ = _insert_parts(instance)
    row = fetch(
        f"WITH changed AS ({changed}) {_insert_select(type(instance), connection.vendor)}",
        [*_adapted(params), *values],  # type: ignore[misc]
    )
    if row is None:
        return False
    instance.pk = row[0]
    _saved(instance)
    return True
