"""Tax ids checked per country, with their check digits, by python-stdnum: the Colombian NIT, the
Mexican RFC, the Chilean RUT, the Argentine CUIT, the Peruvian and Ecuadorian RUC and the
Brazilian CNPJ (companies) or CPF (people). A valid id is kept in one normal form: the library's
`format()` without its grouping dots and spaces (900123456-8, 12345678-5, 20-26756539-3,
GODE561231GR8 ...; its compact form where the library has no format), so that `900.123.456-8`,
`900123456-8` and `9001234568` are the same client. Dropping the dots keeps the form the platform
already stored (and searches: a search for 900123456 finds it). A tax id of any other
country, or of none, is accepted as given, trimmed: there is no rule to check it against.
Pure Python: no I/O."""

from __future__ import annotations

import re
from types import ModuleType

from stdnum.ar import cuit
from stdnum.br import cnpj, cpf
from stdnum.cl import rut
from stdnum.co import nit
from stdnum.ec import ruc as ec_ruc
from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength, ValidationError
from stdnum.mx import rfc
from stdnum.pe import ruc as pe_ruc

# What each country's tax id is called in the error a user reads.
_RULES: dict[str, tuple[str, tuple[ModuleType, ...]]] = {
    "CO": ("NIT", (nit,)),
    "MX": ("RFC", (rfc,)),
    "CL": ("RUT", (rut,)),
    "AR": ("CUIT", (cuit,)),
    "PE": ("RUC", (pe_ruc,)),
    "EC": ("RUC", (ec_ruc,)),
    # A Brazilian company has a CNPJ (14 digits), a person a CPF (11): the length tells which.
    "BR": ("CNPJ or CPF", (cnpj, cpf)),
}
CHECKED_COUNTRIES = frozenset(_RULES)
# The grouping that format() adds for reading (thousands dots, RFC spaces), not part of the id.
_UNGROUPED = re.compile(r"[.\s]")


class InvalidTaxId(ValueError):
    """The tax id breaks its country's rule; the message says why, in the user's words."""


def _why(error: ValidationError) -> str:
    if isinstance(error, InvalidChecksum):
        return "its check digit does not match"
    if isinstance(error, InvalidLength):
        return "it has the wrong number of digits"
    if isinstance(error, InvalidFormat):
        return "it has characters or a layout that such an id cannot have"
    if isinstance(error, InvalidComponent):
        return "a part of it (a date or a type code) is not possible"
    return str(error) or "it is not valid"


def normal_tax_id(country: str, value: str) -> str:
    """The tax id in its normal form for `country` (upper-case ISO 3166-1 alpha-2, or empty);
    InvalidTaxId when the country has a rule and the value breaks it."""
    value = value.strip()
    rule = _RULES.get(country)
    if not value or rule is None:
        return value
    name, modules = rule
    if len(modules) > 1:
        # Brazil: the candidate whose length fits; CPF (11 digits) else CNPJ.
        digits = sum(ch.isdigit() for ch in value)
        modules = (cpf,) if digits == 11 else (cnpj,)
    module = modules[0]
    try:
        # The RFC's check digit is optional in the library (old ids lack a right one): the
        # platform checks it, as it does every other country's.
        compact = module.validate(value, validate_check_digits=True) if module is rfc else module.validate(value)
    except ValidationError as exc:
        raise InvalidTaxId(f"'{value}' is not a valid {country} {name}: {_why(exc)}") from None
    formatted = getattr(module, "format", None)
    return _UNGROUPED.sub("", str(formatted(compact))) if formatted else str(compact)


def normal_tax_id_or_given(country: str, value: str) -> str:
    """The normal form when the id is valid, else the value trimmed (to look up or keep ids that
    were stored before the rule existed)."""
    try:
        return normal_tax_id(country, value)
    except InvalidTaxId:
        return value.strip()


def tax_id_forms(country: str, value: str) -> tuple[str, ...]:
    """The stored forms a tax id given to look a client up may have: as given (trimmed) and its
    normal form in the given country or, when none is given, in each country whose rule it
    passes (a contact import may name its client's NIT without saying it is Colombian)."""
    value = value.strip()
    if not value:
        return ()
    forms = [value]
    for each in (country,) if country else sorted(CHECKED_COUNTRIES):
        try:
            forms.append(normal_tax_id(each, value))
        except InvalidTaxId:
            continue
    return tuple(dict.fromkeys(forms))
