"""Training runs over the API (see API.md): a requester starts a reward-model or policy run on
its own batches and follows it. The checks are the admin's: `services.runs.start_run`."""

from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import BAD_REQUEST, SIGNED_IN_ONLY, ErrorDetailSerializer, NotFound
from core.sql import MAX_ID
from labeling.models import Batch
from labeling.permissions import IsRequester

from . import selectors
from .models import TrainingRun
from .services import runs
from .services.config import known_model

# The API names run kinds for what they train; the rows keep their own codes (rm, ppo).
KINDS = {"reward": TrainingRun.Kind.REWARD_MODEL, "policy": TrainingRun.Kind.POLICY}
API_KIND = {code: name for name, code in KINDS.items()}
# Options each kind takes besides the model, as the API names them.
KIND_OPTIONS = {
    "reward": ("epochs", "lr", "batch_size"),
    "policy": ("reward_model", "algo", "steps", "lr", "batch_size"),
}
LIST_LIMIT = 100


class RunInSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=list(KINDS))
    batches = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        min_length=1,
        max_length=100,
        help_text="Ids of your batches: their approved preferences (reward runs) or their "
        "prompts (policy runs).",
    )
    model = serializers.CharField(
        max_length=200, help_text="'tiny' (a tiny offline model) or a base model this site offers."
    )
    reward_model = serializers.IntegerField(
        min_value=1,
        max_value=MAX_ID,
        required=False,
        help_text="Policy runs: the id of your succeeded reward run to tune against.",
    )
    epochs = serializers.FloatField(required=False, help_text="Reward runs: above 0, at most 100.")
    algo = serializers.ChoiceField(
        choices=["ppo", "grpo", "rloo"], required=False, help_text="Policy runs (default ppo)."
    )
    steps = serializers.IntegerField(
        min_value=1, max_value=100_000, required=False, help_text="Policy runs (default 20)."
    )
    lr = serializers.FloatField(required=False, help_text="Learning rate, between 0 and 1.")
    batch_size = serializers.IntegerField(min_value=1, max_value=1024, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        kind = attrs["kind"]
        other = "policy" if kind == "reward" else "reward"
        foreign = {
            name: [f"Only {other} runs take {name}."]
            for name in KIND_OPTIONS[other]
            if name in attrs and name not in KIND_OPTIONS[kind]
        }
        if foreign:
            raise serializers.ValidationError(foreign)
        if kind == "policy" and "reward_model" not in attrs:
            raise serializers.ValidationError(
                {"reward_model": ["Policy runs need the id of a succeeded reward run."]}
            )
        return attrs


class RunOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.SerializerMethodField()
    status = serializers.ChoiceField(choices=TrainingRun.Status.choices)
    progress = serializers.FloatField(help_text="0..1")

    @extend_schema_field(serializers.ChoiceField(choices=list(KINDS)))
    def get_kind(self, run: TrainingRun) -> str:
        return API_KIND[run.kind]


class RunDetailSerializer(RunOutSerializer):
    metrics = serializers.DictField(help_text="What training measured (eval accuracy, reward).")
    error = serializers.SerializerMethodField(help_text="Why a failed run failed, in one line.")
    message = serializers.CharField(source="progress_message", help_text="What it is doing now.")
    batches = serializers.SerializerMethodField()
    config = serializers.DictField(help_text="Every option the run trains with, defaults included.")
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_error(self, run: TrainingRun) -> str | None:
        return run.error or None

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_batches(self, run: TrainingRun) -> list[int]:
        return [batch.id for batch in run.batches.all()]


class RunListSerializer(serializers.Serializer):
    results = RunDetailSerializer(many=True)


def config_from(fields: dict[str, Any]) -> dict[str, Any]:
    """The run config the service checks, in its own option names."""
    config = {name: fields[name] for name in KIND_OPTIONS[fields["kind"]] if name in fields}
    config["model" if fields["kind"] == "reward" else "policy"] = fields["model"]
    return config


def own_runs(request: Request) -> Any:
    return selectors.visible_runs(user=request.user).prefetch_related("batches")


def own_batches(request: Request, ids: list[int]) -> list[Batch]:
    """The batches by id; any the user may not train on is not found, as an unknown one is."""
    ids = list(dict.fromkeys(ids))
    batches = list(selectors.trainable_batches(user=request.user).filter(id__in=ids))
    missing = sorted(set(ids) - {batch.id for batch in batches})
    if missing:
        raise NotFound(f"No batch {', '.join(map(str, missing))} of yours.")
    return batches


def check_own_run(request: Request, run_id: int | None) -> None:
    if run_id is not None and not own_runs(request).filter(id=run_id).exists():
        raise NotFound(f"No run {run_id} of yours.")


class RunsView(APIView):
    """Start a run on your batches (queued for the training worker), or list your runs."""

    permission_classes = [IsRequester]

    @extend_schema(
        request=RunInSerializer,
        responses={
            201: RunOutSerializer,
            400: BAD_REQUEST,
            404: ErrorDetailSerializer,
            **SIGNED_IN_ONLY,
        },
    )
    def post(self, request: Request) -> Response:
        data = RunInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        batches = own_batches(request, fields["batches"])
        check_own_run(request, fields.get("reward_model"))
        known_model("model", fields["model"])  # named as the API names it, for either kind
        run = runs.start_run(
            kind=KINDS[fields["kind"]],
            batches=batches,
            config=config_from(fields),
            started_by=request.user,
            queue=True,
        )
        run.refresh_from_db()  # without a broker the job ran already, before this line
        return Response(RunOutSerializer(run).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="v1_runs_list", responses={200: RunListSerializer, **SIGNED_IN_ONLY}
    )
    def get(self, request: Request) -> Response:
        """Your runs, newest first (the latest 100)."""
        latest = own_runs(request).order_by("-id")[:LIST_LIMIT]
        return Response(RunListSerializer({"results": latest}).data)


class RunDetailView(APIView):
    permission_classes = [IsRequester]

    @extend_schema(
        responses={200: RunDetailSerializer, 404: ErrorDetailSerializer, **SIGNED_IN_ONLY}
    )
    def get(self, request: Request, run_id: int) -> Response:
        run = own_runs(request).filter(id=run_id).first()
        if run is None:
            raise NotFound("No such run.")
        return Response(RunDetailSerializer(run).data)
