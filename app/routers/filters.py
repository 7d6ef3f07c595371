"""Query parameters of list filters, normalised like the stored values."""

from typing import Annotated

from fastapi import Query
from pydantic import AfterValidator

from app.schemas.common import City, DemandStatusCode, DemandTypeCode, TierCode
from matching import vocab

CodeQuery = Annotated[str | None, Query(max_length=100)]
TextQuery = Annotated[str | None, Query(max_length=200, description="全文检索 / text search")]
CityQuery = Annotated[City | None, Query(description="城市，如 青岛市 / city")]
TierQuery = Annotated[TierCode | None, Query(description="企业梯度 / tier")]
DemandTypeQuery = Annotated[DemandTypeCode | None, Query(description="需求类型 / need type")]
StatusQuery = Annotated[DemandStatusCode | None, Query(description="需求状态 / status")]
CertQuery = Annotated[
    str | None,
    Query(max_length=100, description="资质证书，如 IATF 16949 / certificate"),
    AfterValidator(lambda v: vocab.normalize_certification(v) if v else None),
]
