"""Publishing over the API (see API.md, "Training runs and publishing"): a requester serves
its succeeded runs, lists and unpublishes them, and has a policy write its next batch."""

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import BAD_REQUEST, SIGNED_IN_ONLY, ErrorDetailSerializer
from core.hostile import Decoder
from labeling.api import BatchOutSerializer
from labeling.permissions import IsRequester
from labeling.services.batches import MAX_OVERLAP, MAX_REWARD_MSAT

from .models import ServedModel
from .services import closed_loop, publishing


class PublishInSerializer(serializers.Serializer):
    run_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    name = serializers.CharField(max_length=64, help_text="Public name; the `model` of /v1 calls.")
    price_msat_per_1k_input = serializers.IntegerField(required=False, help_text="Policies.")
    price_msat_per_1k_output = serializers.IntegerField(required=False, help_text="Policies.")
    price_msat_per_response = serializers.IntegerField(required=False, help_text="Reward models.")
    max_tokens = serializers.IntegerField(
        required=False, help_text="Most tokens a call may ask for."
    )


PRICE_FIELDS = ("price_msat_per_1k_input", "price_msat_per_1k_output", "price_msat_per_response")


class ServedModelSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=ServedModel.Kind.choices)
    run_id = serializers.IntegerField()
    price_msat_per_1k_input = serializers.IntegerField(required=False)
    price_msat_per_1k_output = serializers.IntegerField(required=False)
    price_msat_per_response = serializers.IntegerField(required=False)
    max_tokens = serializers.IntegerField()
    published = serializers.BooleanField()
    engine_ready = serializers.BooleanField(help_text="An engine is running for it.")
    created_at = serializers.DateTimeField()

    def to_representation(self, instance: ServedModel) -> dict[str, Any]:
        data = super().to_representation(instance)
        wanted = publishing.PRICES[instance.kind]
        return {
            key: value for key, value in data.items() if key not in PRICE_FIELDS or key in wanted
        }


def _rendered(model: ServedModel) -> dict[str, Any]:
    model.engine_ready = bool(model.engine_url)  # type: ignore[attr-defined]
    return ServedModelSerializer(model).data


class ServedModelListView(APIView):
    permission_classes = [IsRequester]

    @extend_schema(responses={200: ServedModelSerializer(many=True), **SIGNED_IN_ONLY})
    def get(self, request: Request) -> Response:
        models = publishing.owned_models(user=request.user).order_by("-id")[:500]
        return Response([_rendered(model) for model in models])

    @extend_schema(
        request=PublishInSerializer,
        responses={201: ServedModelSerializer, 400: BAD_REQUEST, **SIGNED_IN_ONLY},
    )
    def post(self, request: Request) -> Response:
        data = PublishInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        model = publishing.publish_model(
            user=request.user,
            run_id=fields["run_id"],
            name=fields["name"],
            prices={key: fields[key] for key in PRICE_FIELDS if key in fields},
            max_tokens=fields.get("max_tokens"),
        )
        return Response(_rendered(model), status=status.HTTP_201_CREATED)


class ServedModelDetailView(APIView):
    permission_classes = [IsRequester]

    @extend_schema(responses={204: None, 404: ErrorDetailSerializer, **SIGNED_IN_ONLY})
    def delete(self, request: Request, served_model_id: int) -> Response:
        publishing.unpublish_model(user=request.user, served_model_id=served_model_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class GenerateBatchInSerializer(serializers.Serializer):
    prompts = serializers.JSONField(
        decoder=Decoder,
        help_text=f"1 to {closed_loop.MAX_PROMPTS} prompts: strings (the policy answers twice) "
        "or {prompt, reference} objects (the policy's answer against the reference).",
    )
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    instructions = serializers.CharField(
        required=False, allow_blank=True, default=closed_loop.DEFAULT_INSTRUCTIONS
    )
    reward_msat = serializers.IntegerField(min_value=0, max_value=MAX_REWARD_MSAT)
    overlap = serializers.IntegerField(min_value=1, max_value=MAX_OVERLAP, default=1)
    max_tokens = serializers.IntegerField(
        min_value=1, required=False, help_text="Per answer; at most the model's max_tokens."
    )
    temperature = serializers.FloatField(min_value=0.0, max_value=2.0, default=1.0)


class GeneratedBatchView(APIView):
    permission_classes = [IsRequester]

    @extend_schema(
        request=GenerateBatchInSerializer,
        responses={
            201: BatchOutSerializer,
            400: BAD_REQUEST,
            402: ErrorDetailSerializer,
            404: ErrorDetailSerializer,
            502: ErrorDetailSerializer,
            504: ErrorDetailSerializer,
            **SIGNED_IN_ONLY,
        },
        description="The owner's policy answers the prompts and the pairs are posted as a "
        "pairwise batch (its cost reserved), recording the model and its training run.",
    )
    def post(self, request: Request, served_model_id: int) -> Response:
        data = GenerateBatchInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        batch = closed_loop.generate_batch(
            requester=request.user.requester,
            served_model_id=served_model_id,
            prompts=closed_loop.parse_prompts(fields["prompts"]),
            name=fields["name"],
            instructions=fields["instructions"],
            reward_msat=fields["reward_msat"],
            overlap=fields["overlap"],
            max_tokens=fields.get("max_tokens"),
            temperature=fields["temperature"],
        )
        return Response(BatchOutSerializer(batch).data, status=status.HTTP_201_CREATED)
