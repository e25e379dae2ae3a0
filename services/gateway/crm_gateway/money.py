"""The HTTP API's one money schema, used by every route that takes an amount of money or a
currency: an exact non-negative decimal string and a currency code under the shared library's
rule (crm_platform.money: a currency in use today). Codes are read in any case and normalised to
upper case here, as the services normalise them, so "cop" is COP on every route."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from crm_gateway.api import pattern_saying
from crm_gateway.convert import RATE_PATTERN, RATE_RULE
from crm_platform.money import MAX_AMOUNT_DIGITS, currency_problem, invoice_currencies

CURRENCY_RULE = (
    'The ISO 4217 code of a currency in use today, in any case ("cop" is read as COP; answers give '
    "upper case). Historical codes (DEM, VEF) and codes that are not money a business invoices in "
    "(XAU and the other metals, XDR, XTS, XXX) are refused with 400 naming the field. Accepted: "
    + ", ".join(sorted(invoice_currencies()))
    + "."
)


def _currency(code: str) -> str:
    problem = currency_problem(code)
    if problem is not None:
        raise ValueError(problem)
    return code.upper()


# The document lists the accepted codes in upper case (any case is read, as CURRENCY_RULE says).
CURRENCIES = sorted(invoice_currencies())
CurrencyCode = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z]{3}$"),
    AfterValidator(_currency),
    Field(description=CURRENCY_RULE, json_schema_extra={"enum": CURRENCIES}),
]
# A currency, or "" for the record's (or the service's) default.
OptionalCurrencyCode = Annotated[
    str,
    StringConstraints(pattern=r"^([A-Za-z]{3})?$"),
    AfterValidator(lambda code: code and _currency(code)),
    Field(description=f"{CURRENCY_RULE} Empty: the default.", json_schema_extra={"enum": ["", *CURRENCIES]}),
]
# An exact amount as a decimal string ("1250000.50"): never a JSON number, which is binary.
Amount = Annotated[str, StringConstraints(pattern=rf"^[0-9]{{1,{MAX_AMOUNT_DIGITS}}}(\.[0-9]{{1,6}})?$")]


# A tax rate from 0 to 1 with at most 6 decimals (as the quotes service keeps it).
TaxRate = Annotated[
    str,
    StringConstraints(
        pattern=pattern_saying(
            r"^(0(\.[0-9]{1,6})?|1(\.0{1,6})?)$",
            "must be a decimal fraction from 0 to 1 (0.19 is 19 %, 0 is exempt), at most 6 decimals",
        )
    ),
    Field(description=f'{RATE_RULE} A tax rate: "0" is exempt; at most 6 decimals.', examples=["0.19"]),
]
# A discount from 0 to 1 (a percentage of up to 6 decimals, as the quotes service keeps it).
DiscountRate = Annotated[
    str,
    StringConstraints(
        pattern=pattern_saying(RATE_PATTERN, "must be a decimal fraction from 0 to 1 (0.05 is 5 %), at most 8 decimals")
    ),
    Field(description=f'{RATE_RULE} A discount: "0" is none; at most 8 decimals.', examples=["0.05"]),
]


class MoneyIn(BaseModel):
    """An amount of money: not negative, at most 18 integer digits and 6 decimals (rounded to the
    currency's minor unit where a service stores it as a final figure)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    amount: Amount
    currency_code: CurrencyCode
