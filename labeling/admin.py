"""The requester's admin: upload a batch file, watch progress, read ratings and reports.

A requester is staff but not superuser and sees only its own rows.
"""

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from . import services
from .batch_files import parse_batch_file
from .errors import DomainError
from .models import Batch, Item, Rating, Report, Requester, TaskType, Worker
from .models import Response as TaskResponse


class OwnRowsMixin:
    """Limits a requester to the rows of its own batches; superusers see everything."""

    requester_path = "batch__requester"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)  # type: ignore[misc]
        if request.user.is_superuser:
            return queryset
        requester = getattr(request.user, "requester", None)
        if requester is None:
            return queryset.none()
        return queryset.filter(**{self.requester_path: requester})


class BatchUploadForm(forms.Form):
    name = forms.CharField(max_length=200)
    task_type = forms.ChoiceField(choices=TaskType.choices)
    instructions = forms.CharField(
        widget=forms.Textarea, required=False, help_text=_("Markdown, shown to workers.")
    )
    reward_msat = forms.IntegerField(
        min_value=0,
        max_value=services.MAX_REWARD_MSAT,
        help_text=_("Paid per accepted rating, in millisatoshis."),
    )
    overlap = forms.IntegerField(
        min_value=1,
        max_value=services.MAX_OVERLAP,
        initial=3,
        help_text=_("How many different workers rate each item."),
    )
    file = forms.FileField(
        help_text=_(
            'JSONL: one {"prompt", "responses": [{"id", "text"}], "gold"?} per line; '
            "or CSV with columns prompt,response_a,response_b."
        )
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        upload = data.get("file")
        if upload is None or "task_type" not in data:
            return data
        if upload.size > settings.BATCH_UPLOAD_MAX_BYTES:
            raise forms.ValidationError(
                _("The file is larger than %(limit)s bytes.")
                % {"limit": settings.BATCH_UPLOAD_MAX_BYTES}
            )
        try:
            raw = parse_batch_file(
                name=upload.name, content=upload.read(), max_items=settings.BATCH_MAX_ITEMS
            )
            data["items"] = services.validate_items(task_type=data["task_type"], items=raw)
        except DomainError as error:
            raise forms.ValidationError(error_text(error)) from error
        return data


def error_text(error: DomainError) -> str:
    body = error.as_body()
    return " ".join(" ".join(v) if isinstance(v, list) else str(v) for v in body.values())


@admin.register(Batch)
class BatchAdmin(OwnRowsMixin, admin.ModelAdmin):
    requester_path = "requester"
    list_display = (
        "name",
        "task_type",
        "status",
        "progress",
        "items_count",
        "reward_msat",
        "export_links",
    )
    list_filter = ("status", "task_type")
    search_fields = ("name",)
    readonly_fields = (
        "requester",
        "task_type",
        "reward_msat",
        "overlap",
        "items_count",
        "created_at",
        "progress",
        "export_links",
    )
    fields = ("name", "status", "instructions", *readonly_fields)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .annotate(
                ratings_done=Count("ratings", filter=~Q(ratings__status=Rating.Status.REJECTED))
            )
        )

    @admin.display(description=_("Progress"))
    def progress(self, batch: Batch) -> str:
        done = getattr(batch, "ratings_done", None)
        if done is None:
            done = batch.ratings.exclude(status=Rating.Status.REJECTED).count()
        needed = batch.ratings_needed or 1
        percent = min(100, round(100 * done / needed))
        return format_html(
            '<progress value="{}" max="{}" aria-label="{}%">{}%</progress> {} / {}',
            done,
            needed,
            percent,
            percent,
            done,
            batch.ratings_needed,
        )

    @admin.display(description=_("Export"))
    def export_links(self, batch: Batch) -> str:
        url = reverse("batch-export", args=[batch.id])
        return format_html(
            '<a href="{}?format=trl">TRL JSONL</a> · <a href="{}?format=raw">raw</a>', url, url
        )

    # A requester may pause, reopen or cancel a batch (saving it cancelled releases what is
    # left of its reservation). "Completed" is the system's to set, and a cancelled batch
    # stays cancelled: reopening it would serve tasks nobody pays for.
    REQUESTER_STATUSES = (Batch.Status.OPEN, Batch.Status.PAUSED, Batch.Status.CANCELLED)
    FINAL_STATUSES = (Batch.Status.COMPLETED, Batch.Status.CANCELLED)

    def get_readonly_fields(self, request: HttpRequest, obj: Batch | None = None) -> tuple:
        fields = super().get_readonly_fields(request, obj)
        if obj is not None and obj.status in self.FINAL_STATUSES:
            return ("status", *fields)
        return fields

    def formfield_for_choice_field(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "status" and not request.user.is_superuser:
            kwargs["choices"] = [(s.value, s.label) for s in self.REQUESTER_STATUSES]
        return super().formfield_for_choice_field(db_field, request, **kwargs)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return hasattr(request.user, "requester") and super().has_add_permission(request)

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_add_permission(request):
            return HttpResponseRedirect(reverse("admin:labeling_batch_changelist"))
        form = BatchUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                batch = services.create_batch(
                    requester=request.user.requester,
                    name=data["name"],
                    task_type=data["task_type"],
                    instructions=data["instructions"],
                    reward_msat=data["reward_msat"],
                    overlap=data["overlap"],
                    items=data["items"],
                )
            except DomainError as error:
                form.add_error(None, error_text(error))
            else:
                self.message_user(
                    request,
                    _("Batch “%(name)s” created with %(n)d items.")
                    % {"name": batch.name, "n": batch.items_count},
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:labeling_batch_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Upload a batch"),
            "form": form,
            "opts": self.model._meta,
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/labeling/batch/upload.html", context)


class ResponseInline(admin.TabularInline):
    model = TaskResponse
    fields = ("key", "text")
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(Item)
class ItemAdmin(OwnRowsMixin, admin.ModelAdmin):
    list_display = ("id", "batch", "position", "short_prompt", "slots_left", "blocked", "is_gold")
    list_filter = ("blocked", "batch")
    search_fields = ("prompt",)
    readonly_fields = ("batch", "position", "prompt", "gold", "slots_left")
    fields = ("batch", "position", "prompt", "gold", "slots_left", "blocked")
    inlines = [ResponseInline]

    @admin.display(description=_("Prompt"))
    def short_prompt(self, item: Item) -> str:
        return item.prompt[:80]

    @admin.display(boolean=True, description=_("Gold"))
    def is_gold(self, item: Item) -> bool:
        return item.gold is not None


@admin.register(Rating)
class RatingAdmin(OwnRowsMixin, admin.ModelAdmin):
    list_display = ("id", "batch", "item_id", "worker_id", "status", "reward_msat", "created_at")
    list_filter = ("status", "batch")
    readonly_fields = (
        "assignment",
        "worker",
        "item",
        "batch",
        "ranking",
        "scores",
        "rationale",
        "status",
        "reward_msat",
        "reason",
        "shown_at",
        "created_at",
    )
    list_select_related = ("batch",)


@admin.register(Report)
class ReportAdmin(OwnRowsMixin, admin.ModelAdmin):
    requester_path = "item__batch__requester"
    list_display = ("id", "item", "reason", "note", "resolved", "created_at")
    list_filter = ("resolved", "reason")
    readonly_fields = ("assignment", "item", "worker", "reason", "note", "created_at")
    actions = ["resolve_and_unblock"]

    @admin.action(description=_("Mark resolved and serve the items again"))
    def resolve_and_unblock(self, request: HttpRequest, queryset: QuerySet) -> None:
        items = list(queryset.values_list("item_id", flat=True))
        queryset.update(resolved=True)
        Item.objects.filter(id__in=items).update(blocked=False)


admin.site.register(Requester)
admin.site.register(Worker)
