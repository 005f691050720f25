"""The closed loop: a served policy answers its owner's prompts twice (or once, beside a
reference answer), and the pairs are posted as the next pairwise batch in one action.

Generation runs in the request, through the model's engine process as every gateway call
does, so a set is capped at MAX_PROMPTS; nothing is written until every answer is in, and
a failure (engine, balance, input) leaves no batch and reserves nothing. The owner calling
its own model pays nothing for the generation (it would pay itself): only the batch's cost
is reserved, as for any batch."""

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from core.hostile import text_problem
from labeling.models import Batch, Requester, TaskType
from labeling.services import batches
from payouts import ledger
from payouts.errors import InsufficientBalance

from ..engines.base import ChatParams, EngineError, Piece
from ..engines.base import EngineTimeout as EngineTimedOut
from ..errors import EngineFailed, EngineTimeout, ServedModelNotFound, ServingError
from ..models import ServedModel
from . import calls

MAX_PROMPTS = 50  # the engine answers 2 samples per prompt inside one web request
DEFAULT_MAX_TOKENS = 256
DEFAULT_INSTRUCTIONS = "Pick the better answer to the prompt."


class LoopRefused(ServingError):
    """A closed-loop request that cannot be answered as asked (400)."""

    default_detail = "This batch cannot be generated."


@dataclass(frozen=True)
class LoopPrompt:
    prompt: str
    reference: str | None = None


def parse_prompts(raw: Any) -> list[LoopPrompt]:
    """Prompts as a list of strings or `{"prompt", "reference"?}` objects."""
    if not isinstance(raw, list) or not raw:
        raise LoopRefused({"prompts": [_("A non-empty list of prompts.")]})
    if len(raw) > MAX_PROMPTS:
        raise LoopRefused(
            {"prompts": [_("At most %(most)d prompts per batch.") % {"most": MAX_PROMPTS}]}
        )
    prompts = []
    for number, entry in enumerate(raw, start=1):
        prompt, reference = (entry, None) if isinstance(entry, str) else (None, None)
        if isinstance(entry, dict):
            prompt, reference = entry.get("prompt"), entry.get("reference")
            if set(entry) - {"prompt", "reference"}:
                prompt = None  # an unknown key is a typo: refuse rather than guess
        where = _("Prompt %(number)d") % {"number": number}
        if not isinstance(prompt, str) or not prompt.strip() or len(prompt) > batches.MAX_TEXT:
            raise LoopRefused(
                {"prompts": [where + ": " + _("a non-empty string, or {prompt, reference}.")]}
            )
        if reference is not None and (
            not isinstance(reference, str)
            or not reference.strip()
            or len(reference) > batches.MAX_TEXT
        ):
            raise LoopRefused({"prompts": [where + ": " + _("the reference is non-empty text.")]})
        size = len(prompt.encode("utf-8", "surrogatepass"))
        if size > settings.SERVING_MAX_PROMPT_BYTES:  # the gateway's limit for any call
            raise LoopRefused(
                {
                    "prompts": [
                        where
                        + ": "
                        + _("%(size)d bytes; the limit is %(limit)d.")
                        % {"size": size, "limit": settings.SERVING_MAX_PROMPT_BYTES}
                    ]
                }
            )
        problem = text_problem(prompt) or (reference and text_problem(reference))
        if problem:  # refused before the engine answers a prompt the database cannot store
            raise LoopRefused({"prompts": [f"{where}: {problem}"]})
        prompts.append(LoopPrompt(prompt=prompt, reference=reference))
    return prompts


def _owned_policy(*, requester: Requester, served_model_id: int) -> ServedModel:
    model = (
        ServedModel.objects.filter(id=served_model_id, owner=requester)
        .select_related("run")
        .first()
    )
    if model is None:
        raise ServedModelNotFound()
    if model.kind != ServedModel.Kind.POLICY:
        raise LoopRefused(
            {"served_model": [_("A reward model scores answers; only a policy writes them.")]}
        )
    if not model.published:
        raise LoopRefused({"served_model": [_("Publish the model again to generate with it.")]})
    return model


def _answers(engine: Any, params: ChatParams) -> list[str]:
    """The engine's samples for one prompt (2, or 1 beside a reference), whole."""
    texts: dict[int, str] = {}
    try:
        for event in engine.chat(params):
            if isinstance(event, Piece):
                texts[event.index] = texts.get(event.index, "") + event.text
    except EngineTimedOut as exc:
        raise EngineTimeout(
            _("The model's engine did not answer in time; nothing was created.")
        ) from exc
    except EngineError as exc:
        raise EngineFailed(_("The model's engine failed; nothing was created.")) from exc
    return [texts.get(index, "") for index in range(params.n)]


def generate_batch(
    *,
    requester: Requester,
    served_model_id: int,
    prompts: list[LoopPrompt],
    name: str = "",
    instructions: str = DEFAULT_INSTRUCTIONS,
    reward_msat: int,
    overlap: int = 1,
    max_tokens: int | None = None,
    temperature: float = 1.0,
) -> Batch:
    """Answers every prompt with the owner's policy, then posts the pairs as one batch that
    records the model and its run. Nothing is written before every answer is in."""
    model = _owned_policy(requester=requester, served_model_id=served_model_id)
    most = min(model.max_tokens, DEFAULT_MAX_TOKENS) if max_tokens is None else max_tokens
    if not 1 <= most <= model.max_tokens:
        raise LoopRefused(
            {"max_tokens": [_("A whole number from 1 to %(most)d.") % {"most": model.max_tokens}]}
        )
    if not 0.0 <= temperature <= 2.0:
        raise LoopRefused({"temperature": [_("A number from 0 to 2.")]})
    name = name.strip() or _("%(model)s answers") % {"model": model.name}
    # The batch's own checks and the balance, before any engine time is spent on it;
    # create_batch decides again, in its transaction.
    if not 1 <= overlap <= batches.MAX_OVERLAP:
        raise LoopRefused(
            {"overlap": [_("A whole number from 1 to %(most)d.") % {"most": batches.MAX_OVERLAP}]}
        )
    if not 0 <= reward_msat <= batches.MAX_REWARD_MSAT:
        raise LoopRefused({"reward_msat": [_("Reward must be between 0 and 1 BTC in msat.")]})
    cost_msat = Batch(reward_msat=reward_msat, overlap=overlap, items_count=len(prompts)).cost_msat
    if ledger.balance_msat(ledger.requester_available(requester.id)) < cost_msat:
        raise InsufficientBalance(
            _("The batch would cost %(cost)d msat; your balance does not cover it.")
            % {"cost": cost_msat}
        )

    engine = calls.engine_for(model)
    items = []
    for number, item in enumerate(prompts, start=1):
        params = ChatParams(
            messages=[{"role": "user", "content": item.prompt}],
            max_tokens=most,
            temperature=temperature,
            n=1 if item.reference is not None else 2,
        )
        answers = _answers(engine, params)
        if any(text_problem(text) for text in answers):  # a NUL or lone surrogate
            raise EngineFailed(
                _("The model's answer to prompt %(number)d cannot be stored; nothing was created.")
                % {"number": number}
            )
        if not all(text.strip() for text in answers):
            raise LoopRefused(
                {
                    "prompts": [
                        _("Prompt %(number)d: the model answered with empty text.")
                        % {"number": number}
                    ]
                }
            )
        # Ids say which is which in the raw export; workers see them in shuffled order.
        if item.reference is None:
            responses = [{"id": "a", "text": answers[0]}, {"id": "b", "text": answers[1]}]
        else:
            responses = [
                {"id": "policy", "text": answers[0]},
                {"id": "reference", "text": item.reference},
            ]
        items.append({"prompt": item.prompt, "responses": responses})
    return batches.create_batch(
        requester=requester,
        name=name[:200],
        task_type=TaskType.PAIRWISE,
        instructions=instructions,
        reward_msat=reward_msat,
        overlap=overlap,
        items=batches.validate_items(task_type=TaskType.PAIRWISE, items=items),
        source_model=model.name,
        source_run_id=model.run_id,
    )
