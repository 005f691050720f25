"""Task and batch API (see API.md). Views validate, call one service, and render."""

import json
from typing import Any

from django.http import HttpResponse, StreamingHttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import BAD_REQUEST, SIGNED_IN_ONLY, DomainError, ErrorDetailSerializer, NotFound
from core.hostile import Decoder
from core.query import query_flag
from core.sql import MAX_ID

from . import selectors
from .auth import client_fingerprint
from .balances import worker_balance_msat
from .batch_files import read_batch_upload
from .errors import InvalidBatch
from .models import Batch, Rating, Report, TaskType
from .permissions import IsRequester, IsWorker
from .services import assignments, batches, ratings, review


class ResponseSerializer(serializers.Serializer):
    id = serializers.CharField()
    text = serializers.CharField()


class TaskSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=TaskType.choices)
    instructions = serializers.CharField(allow_blank=True)
    instructions_html = serializers.CharField(allow_blank=True)
    prompt = serializers.CharField()
    responses = ResponseSerializer(many=True)


class BonusSerializer(serializers.Serializer):
    """Pay by quality: workers with trust from `min_trust` earn `bonus_msat` more."""

    bonus_msat = serializers.IntegerField()
    min_trust = serializers.FloatField()
    your_trust = serializers.FloatField()


class AssignmentOutSerializer(serializers.Serializer):
    assignment_id = serializers.IntegerField()
    expires_at = serializers.DateTimeField()
    reward_msat = serializers.IntegerField()
    bonus = BonusSerializer(allow_null=True, help_text="Null unless the batch pays by quality.")
    task = TaskSerializer()


class NextTaskView(APIView):
    permission_classes = [IsWorker]

    @extend_schema(responses={200: AssignmentOutSerializer, 204: None, **SIGNED_IN_ONLY})
    def get(self, request: Request) -> Response:
        assignment = assignments.next_assignment_for(
            worker=request.user.worker, client=client_fingerprint(request)
        )
        if assignment is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        payload = selectors.task_payload(assignment=assignment, worker=request.user.worker)
        return Response(AssignmentOutSerializer(payload).data)


class SubmitInSerializer(serializers.Serializer):
    ranking = serializers.JSONField(
        required=False, decoder=Decoder, help_text="Response ids, best first."
    )
    scores = serializers.JSONField(
        required=False, decoder=Decoder, help_text="Response id → 1..7 (likert)."
    )
    rationale = serializers.CharField(required=False, allow_blank=True, max_length=5000)


class SubmitOutSerializer(serializers.Serializer):
    rating_id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=Rating.Status.choices)
    reward_msat = serializers.IntegerField()
    balance_msat = serializers.IntegerField()
    next = AssignmentOutSerializer(
        required=False, allow_null=True, help_text="Only with ?next=1: null when none is left."
    )

    def to_representation(self, instance: dict[str, Any]) -> dict[str, Any]:
        body = super().to_representation(instance)
        # DRF renders an absent nullable field as null; `next` is absent unless asked for.
        if "next" not in instance:
            del body["next"]
        return body


class SubmitView(APIView):
    permission_classes = [IsWorker]

    @extend_schema(
        request=SubmitInSerializer,
        responses={
            201: SubmitOutSerializer,
            400: BAD_REQUEST,
            404: ErrorDetailSerializer,
            409: ErrorDetailSerializer,
            410: ErrorDetailSerializer,
            **SIGNED_IN_ONLY,
        },
        parameters=[
            OpenApiParameter(
                "next",
                bool,
                description="Also hand out the next task (`next`: a task as "
                "GET /tasks/next/ gives it, or null): one round trip per task on slow links.",
            )
        ],
    )
    def post(self, request: Request, assignment_id: int) -> Response:
        data = SubmitInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        wants_next = query_flag(request.query_params, "next")
        worker = request.user.worker
        rating = ratings.submit_rating(
            worker=worker,
            assignment_id=assignment_id,
            ranking=data.validated_data.get("ranking"),
            scores=data.validated_data.get("scores"),
            rationale=data.validated_data.get("rationale", ""),
            client=client_fingerprint(request),
        )
        body = {
            "rating_id": rating.id,
            "status": rating.status,
            "reward_msat": rating.reward_msat,
            "balance_msat": worker_balance_msat(worker),
        }
        if wants_next:
            following = assignments.next_assignment_for(worker=worker)
            body["next"] = (
                selectors.task_payload(assignment=following, worker=worker) if following else None
            )
        return Response(SubmitOutSerializer(body).data, status=status.HTTP_201_CREATED)


class SkipView(APIView):
    permission_classes = [IsWorker]

    @extend_schema(
        request=None,
        responses={
            204: None,
            404: ErrorDetailSerializer,
            409: ErrorDetailSerializer,
            410: ErrorDetailSerializer,
            **SIGNED_IN_ONLY,
        },
    )
    def post(self, request: Request, assignment_id: int) -> Response:
        assignments.skip_assignment(worker=request.user.worker, assignment_id=assignment_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ReportInSerializer(serializers.Serializer):
    reason = serializers.ChoiceField(choices=Report.Reason.choices)
    note = serializers.CharField(required=False, allow_blank=True, max_length=5000)


class ReportOutSerializer(serializers.Serializer):
    report_id = serializers.IntegerField(source="id")


class ReportView(APIView):
    permission_classes = [IsWorker]

    @extend_schema(
        request=ReportInSerializer,
        responses={
            201: ReportOutSerializer,
            400: BAD_REQUEST,
            404: ErrorDetailSerializer,
            409: ErrorDetailSerializer,
            410: ErrorDetailSerializer,
            **SIGNED_IN_ONLY,
        },
    )
    def post(self, request: Request, assignment_id: int) -> Response:
        data = ReportInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        report = assignments.report_assignment(
            worker=request.user.worker, assignment_id=assignment_id, **data.validated_data
        )
        return Response(ReportOutSerializer(report).data, status=status.HTTP_201_CREATED)


class BatchInSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    task_type = serializers.ChoiceField(choices=TaskType.choices)
    instructions = serializers.CharField(required=False, allow_blank=True, default="")
    reward_msat = serializers.IntegerField(min_value=0, max_value=batches.MAX_REWARD_MSAT)
    overlap = serializers.IntegerField(min_value=1, max_value=batches.MAX_OVERLAP, default=1)
    max_overlap = serializers.IntegerField(
        min_value=1,
        max_value=batches.MAX_OVERLAP,
        required=False,
        help_text="Dynamic overlap: items below quality.min_confidence after `overlap` votes "
        "get more, up to this (default: overlap). The cost reserves it; the unused is released.",
    )
    items = serializers.JSONField(required=False, decoder=Decoder)
    file = serializers.FileField(required=False)
    quality = serializers.JSONField(
        required=False,
        decoder=Decoder,
        help_text="review_mode (auto|manual|auto_after), auto_approve_trust, "
        "review_after_hours, pause_below_trust, min_seconds, min_confidence (0..1: the "
        "aggregated confidence dynamic overlap asks for).",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("items" in attrs) == ("file" in attrs):
            raise serializers.ValidationError("Send either `items` (JSON) or a `file`.")
        if not isinstance(attrs.get("quality", {}), dict):
            raise serializers.ValidationError({"quality": ["Expected an object."]})
        return attrs


class BatchOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    items_count = serializers.IntegerField()
    cost_msat = serializers.IntegerField()
    status = serializers.CharField()


class BatchProgressSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    status = serializers.CharField()
    task_type = serializers.ChoiceField(choices=TaskType.choices)
    items_count = serializers.IntegerField()
    ratings_done = serializers.IntegerField()
    ratings_needed = serializers.IntegerField()
    spent_msat = serializers.IntegerField()
    agreement = serializers.FloatField(allow_null=True)
    source_model = serializers.CharField(
        allow_null=True, help_text="The served model that wrote the responses, if one did."
    )
    source_run_id = serializers.IntegerField(
        allow_null=True, help_text="The training run behind that model."
    )
    votes_per_item = serializers.FloatField(
        allow_null=True, help_text="Mean votes on finished items; null before any."
    )
    below_confidence = serializers.FloatField(
        allow_null=True,
        help_text="Share of rated items under quality.min_confidence; null when none is set.",
    )


def raw_items_from(data: dict[str, Any]) -> list[Any]:
    """The batch's items from a JSON list or an uploaded JSONL/CSV file."""
    upload = data.get("file")
    if upload is None:
        if not isinstance(data["items"], list):
            raise InvalidBatch({"items": ["Expected a list of items."]})
        return data["items"]
    return read_batch_upload(upload)


class BatchCreateView(APIView):
    permission_classes = [IsRequester]

    @extend_schema(
        request=BatchInSerializer,
        responses={
            201: BatchOutSerializer,
            400: BAD_REQUEST,
            402: ErrorDetailSerializer,
            **SIGNED_IN_ONLY,
        },
    )
    def post(self, request: Request) -> Response:
        data = BatchInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        batch = batches.create_batch(
            requester=request.user.requester,
            name=fields["name"],
            task_type=fields["task_type"],
            instructions=fields["instructions"],
            reward_msat=fields["reward_msat"],
            overlap=fields["overlap"],
            max_overlap=fields.get("max_overlap"),
            quality=fields.get("quality"),
            items=batches.validate_items(
                task_type=fields["task_type"], items=raw_items_from(fields)
            ),
        )
        created = {
            "id": batch.id,
            "items_count": batch.items_count,
            "cost_msat": batch.cost_msat,
            "status": batch.status,
        }
        return Response(BatchOutSerializer(created).data, status=status.HTTP_201_CREATED)


def _own_batch(request: Request, batch_id: int) -> Batch:
    batch = selectors.batches_of(requester=request.user.requester).filter(id=batch_id).first()
    if batch is None:
        raise NotFound("No such batch.")
    return batch


class BatchDetailView(APIView):
    permission_classes = [IsRequester]

    @extend_schema(
        responses={200: BatchProgressSerializer, 404: ErrorDetailSerializer, **SIGNED_IN_ONLY}
    )
    def get(self, request: Request, batch_id: int) -> Response:
        progress = selectors.batch_progress(batch=_own_batch(request, batch_id))
        return Response(BatchProgressSerializer(progress).data)


class BatchExportView(APIView):
    permission_classes = [IsRequester]

    @extend_schema(
        parameters=[
            OpenApiParameter("format", enum=["trl", "raw"], default="trl"),
            OpenApiParameter(
                "method",
                enum=list(selectors.EXPORT_METHODS),
                default="dawid_skene",
                description="How votes are aggregated.",
            ),
            OpenApiParameter("details", bool, description="Add margin and agreement columns."),
            OpenApiParameter(
                "min_confidence",
                float,
                description="format=trl: leave out pairs whose confidence is below this (0..1).",
            ),
        ],
        responses={
            (200, "application/x-ndjson"): str,
            400: BAD_REQUEST,
            404: ErrorDetailSerializer,
            **SIGNED_IN_ONLY,
        },
    )
    def get(self, request: Request, batch_id: int) -> HttpResponse:
        batch = _own_batch(request, batch_id)
        params = request.query_params
        kind = params.get("format", "trl")
        method = params.get("method", "dawid_skene")
        details = query_flag(params, "details")
        if kind not in ("trl", "raw"):
            raise DomainError({"format": ["Use format=trl or format=raw."]})
        if method not in selectors.EXPORT_METHODS:
            raise DomainError({"method": [f"One of: {', '.join(selectors.EXPORT_METHODS)}."]})
        min_confidence = confidence_param(params.get("min_confidence", "0"))
        rows = (
            selectors.export_raw(batch=batch)
            if kind == "raw"
            else selectors.export_trl(
                batch=batch, method=method, details=details, min_confidence=min_confidence
            )
        )
        lines = (json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        response = StreamingHttpResponse(lines, content_type="application/x-ndjson")
        response["Content-Disposition"] = f'attachment; filename="batch-{batch.id}-{kind}.jsonl"'
        return response


def confidence_param(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1:  # also refuses nan
        raise DomainError({"min_confidence": ["A number from 0 to 1."]})
    return value


class ReviewInSerializer(serializers.Serializer):
    rating_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        min_length=1,
        max_length=1000,
    )
    decision = serializers.ChoiceField(choices=["approve", "reject"])
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


class ReviewOutSerializer(serializers.Serializer):
    reviewed = serializers.IntegerField(help_text="How many ratings changed status.")
    decision = serializers.ChoiceField(choices=["approve", "reject"])


class ReviewView(APIView):
    """A requester approves or rejects ratings waiting for review (its own batches only)."""

    permission_classes = [IsRequester]

    @extend_schema(
        request=ReviewInSerializer,
        responses={
            200: ReviewOutSerializer,
            400: BAD_REQUEST,
            404: ErrorDetailSerializer,
            409: ErrorDetailSerializer,
            **SIGNED_IN_ONLY,
        },
    )
    def post(self, request: Request) -> Response:
        data = ReviewInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        count = review.review_ratings(
            requester=request.user.requester,
            rating_ids=fields["rating_ids"],
            approve=fields["decision"] == "approve",
            reason=fields["reason"],
        )
        reviewed = {"reviewed": count, "decision": fields["decision"]}
        return Response(ReviewOutSerializer(reviewed).data)


class RatingForReviewSerializer(serializers.Serializer):
    """A rating as selectors.ratings_for_review gives it to a reviewer."""

    rating_id = serializers.IntegerField()
    item_id = serializers.IntegerField()
    prompt = serializers.CharField()
    worker_id = serializers.IntegerField()
    worker_trust = serializers.FloatField()
    ranking = serializers.ListField(
        child=serializers.CharField(), allow_null=True, help_text="Response ids, best first."
    )
    scores = serializers.DictField(
        child=serializers.IntegerField(), allow_null=True, help_text="Response id → 1..7."
    )
    rationale = serializers.CharField(allow_blank=True)
    status = serializers.ChoiceField(choices=Rating.Status.choices)
    flags = serializers.ListField(child=serializers.CharField())
    gold_correct = serializers.BooleanField(allow_null=True)
    seconds = serializers.FloatField()
    reason = serializers.CharField(allow_blank=True)
    reward_msat = serializers.IntegerField()


class BatchRatingsOutSerializer(serializers.Serializer):
    results = RatingForReviewSerializer(many=True)


class BatchRatingsView(APIView):
    """The batch's ratings, newest first; `?status=pending_review` lists the review queue."""

    permission_classes = [IsRequester]

    @extend_schema(
        parameters=[OpenApiParameter("status", enum=list(Rating.Status.values))],
        responses={
            200: BatchRatingsOutSerializer,
            400: BAD_REQUEST,
            404: ErrorDetailSerializer,
            **SIGNED_IN_ONLY,
        },
    )
    def get(self, request: Request, batch_id: int) -> Response:
        batch = _own_batch(request, batch_id)
        wanted = request.query_params.get("status")
        if wanted is not None and wanted not in Rating.Status.values:
            raise DomainError({"status": [f"One of: {', '.join(Rating.Status.values)}."]})
        ratings = selectors.ratings_for_review(batch=batch, status=wanted)
        return Response(BatchRatingsOutSerializer({"results": ratings}).data)
