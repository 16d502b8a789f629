"""Transfers (posted at once, or held until posted or voided), linked groups and issues."""

from __future__ import annotations

from fastapi import APIRouter, Response

from telesales_runtime.http import Problem, Tenant

from ..domain import TransferSpec
from ..schemas import HoldSweep, IssueIn, LinkedTransfersIn, LinkedTransfersView, PostHoldIn, TransferIn, TransferView
from .common import Actor, Ledger, Queries, answered, run
from .views import transfer_view

transfers_router = APIRouter(prefix="/v1", tags=["transfers and holds"])


def spec_of(body: TransferIn) -> TransferSpec:
    return TransferSpec(body.id, body.debit, body.credit, body.amount, body.kind, body.pending, body.timeout_seconds,
                        body.note)


@transfers_router.post("/transfers", response_model=TransferView, status_code=201,
                       summary="Transfer coins, or hold them (pending)")
async def create_transfer(body: TransferIn, tenant: Tenant, ledger: Ledger, actor: Actor,
                          response: Response) -> TransferView:
    docs, replayed = await run(ledger.transfer(tenant=tenant, specs=[spec_of(body)], actor=actor))
    answered(response, replayed)
    return transfer_view(docs[0])


@transfers_router.post("/linked-transfers", response_model=LinkedTransfersView, status_code=201,
                       summary="Transfers that succeed or fail together")
async def create_linked(body: LinkedTransfersIn, tenant: Tenant, ledger: Ledger, actor: Actor,
                        response: Response) -> LinkedTransfersView:
    docs, replayed = await run(ledger.transfer(tenant=tenant, specs=[spec_of(t) for t in body.transfers], actor=actor,
                                               linked=True))
    answered(response, replayed)
    return LinkedTransfersView(transfers=[transfer_view(d) for d in docs])


@transfers_router.post("/issues", response_model=TransferView, status_code=201,
                       summary="Issue new coins into the operators' budget")
async def issue(body: IssueIn, tenant: Tenant, ledger: Ledger, actor: Actor, response: Response) -> TransferView:
    doc, replayed = await run(ledger.issue(tenant=tenant, transfer_id=body.id, amount=body.amount, actor=actor,
                                           note=body.note))
    answered(response, replayed)
    return transfer_view(doc)


@transfers_router.get("/transfers/{transfer_id:path}", response_model=TransferView,
                      summary="A transfer (the ledger's own legs have ids like <hold>/post, <purchase>/sale)")
async def get_transfer(transfer_id: str, tenant: Tenant, queries: Queries) -> TransferView:
    doc = await queries.transfer(tenant=tenant, transfer_id=transfer_id)
    if doc is None:
        raise Problem(404, "Unknown transfer", f"There is no transfer {transfer_id!r}.", code="unknown_transfer")
    return transfer_view(doc)


@transfers_router.post("/transfers/{transfer_id}/post", response_model=TransferView,
                       summary="Post a pending transfer (all, or part: the rest is released)")
async def post_hold(transfer_id: str, tenant: Tenant, ledger: Ledger, actor: Actor, response: Response,
                    body: PostHoldIn | None = None) -> TransferView:
    result = await run(ledger.post_hold(tenant=tenant, hold_id=transfer_id, amount=body.amount if body else None,
                                        actor=actor))
    answered(response, result)
    response.status_code = 200
    return transfer_view(result.doc)


@transfers_router.post("/transfers/{transfer_id}/void", response_model=TransferView,
                       summary="Void a pending transfer: the coins go back")
async def void_hold(transfer_id: str, tenant: Tenant, ledger: Ledger, actor: Actor, response: Response) -> TransferView:
    result = await run(ledger.void_hold(tenant=tenant, hold_id=transfer_id, actor=actor))
    answered(response, result)
    response.status_code = 200
    return transfer_view(result.doc)


@transfers_router.post("/holds/expire", response_model=HoldSweep, summary="Void every hold past its timeout now")
async def expire_holds(ledger: Ledger, actor: Actor) -> HoldSweep:
    return HoldSweep(voided=await ledger.expire_holds())
