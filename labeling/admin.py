"""The requester's admin: upload a batch file, watch progress, read ratings and reports.

A requester is staff but not superuser and sees only its own rows.
"""

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.defaultfilters import linebreaksbr
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from core.errors import DomainError

from . import balances, selectors
from .batch_files import parse_batch_file
from .charts import bar_chart, progress_bar, sparkline
from .models import Batch, Item, Rating, Report, Requester, StagedUpload, TaskType, Worker
from .models import Response as TaskResponse
from .services import assignments, batches, review, uploads
from .templatetags.money import msat_as_sats


class OwnRowsMixin:
    """Limits a requester to the rows of its own batches; superusers see everything."""

    requester_path = "batch__requester"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return selectors.visible_to(
            user=request.user,
            rows=super().get_queryset(request),  # type: ignore[misc]
            requester_path=self.requester_path,
        )


class OwnBatchFilter(admin.RelatedOnlyFieldListFilter):
    """The requester's own batches, all of them and always shown: a batch's "Ratings" link
    filters by it even when it has no ratings yet or is the only batch (Django drops a
    filter with fewer than two choices, and with it the filtering)."""

    def has_output(self) -> bool:
        return True

    def field_choices(self, field: Any, request: HttpRequest, model_admin: Any) -> list:
        own = selectors.visible_to(
            user=request.user, rows=Batch.objects.all(), requester_path="requester"
        ).values("pk")
        return field.get_choices(include_blank=False, limit_choices_to={"pk__in": own})


class BatchUploadForm(forms.Form):
    name = forms.CharField(max_length=200)
    task_type = forms.ChoiceField(choices=TaskType.choices)
    instructions = forms.CharField(
        widget=forms.Textarea, required=False, help_text=_("Markdown, shown to workers.")
    )
    reward_msat = forms.IntegerField(
        min_value=0,
        max_value=batches.MAX_REWARD_MSAT,
        help_text=_("Paid per accepted rating, in millisatoshis."),
    )
    overlap = forms.IntegerField(
        min_value=1,
        max_value=batches.MAX_OVERLAP,
        initial=3,
        help_text=_("How many different workers rate each item."),
    )
    max_overlap = forms.IntegerField(
        label=_("Most workers per item"),
        min_value=1,
        max_value=batches.MAX_OVERLAP,
        required=False,
        help_text=_(
            "Dynamic overlap: an item still unsure after the overlap's ratings goes to more "
            "workers, up to this many (empty: the overlap). The cost reserves every slot up "
            "to it; what is not used is released when the batch completes."
        ),
    )
    min_confidence = forms.FloatField(
        label=_("Confidence wanted"),
        min_value=0,
        max_value=1,
        required=False,
        help_text=_(
            "Dynamic overlap: an item whose answer is less sure than this (0 to 1, e.g. 0.95) "
            "is given more ratings, up to the most workers per item."
        ),
    )
    file = forms.FileField(
        required=False,
        help_text=_(
            'JSONL: one {"prompt", "responses": [{"id", "text"}], "gold"?} per line; '
            "or CSV with columns prompt,response_a,response_b. Pairwise items take exactly "
            "2 responses, ranking 2 to 9, Likert 1 to 9."
        ),
    )
    # The file chosen on an earlier try of this form, kept on the server (StagedUpload).
    staged_file = forms.CharField(required=False, widget=forms.HiddenInput)
    review_mode = forms.ChoiceField(choices=Batch.Review.choices, initial=Batch.Review.AUTO)
    auto_approve_trust = forms.FloatField(
        min_value=0,
        max_value=1,
        initial=0.5,
        help_text=_("Auto mode: approve at once from this trust, for workers past probation."),
    )
    min_seconds = forms.IntegerField(
        min_value=0,
        required=False,
        help_text=_(
            "Flag faster answers for review (empty: 3 s pairwise, 5 s ranking, 4 s Likert)."
        ),
    )
    qualification_size = forms.IntegerField(
        min_value=0,
        max_value=50,
        initial=0,
        help_text=_("Entry test: gold items a new worker answers first (0: none)."),
    )
    gold_overlap = forms.IntegerField(
        label=_("Workers per gold item"),
        min_value=1,
        max_value=1000,
        initial=Batch._meta.get_field("gold_overlap").default,
        help_text=_("How many workers answer each gold item."),
    )

    QUALITY_FIELDS = (
        "review_mode",
        "auto_approve_trust",
        "min_seconds",
        "qualification_size",
        "gold_overlap",
        "min_confidence",
    )

    def __init__(self, *args: Any, requester: Requester, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.requester = requester
        self.staged: StagedUpload | None = None

    def batch_fields(self) -> dict[str, Any]:
        """The cleaned form as the keyword arguments of new_batch and create_batch."""
        data = self.cleaned_data
        return {
            "requester": self.requester,
            "name": data["name"],
            "task_type": data["task_type"],
            "instructions": data["instructions"],
            "reward_msat": data["reward_msat"],
            "overlap": data["overlap"],
            "max_overlap": data.get("max_overlap"),
            "items": data["items"],
            "quality": {name: data[name] for name in self.QUALITY_FIELDS},
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        self.staged = self._batch_file(data)
        if self.staged is None or "task_type" not in data:
            return data
        try:
            raw = parse_batch_file(
                name=self.staged.name,
                content=bytes(self.staged.content),
                max_items=settings.BATCH_MAX_ITEMS,
            )
            data["items"] = batches.validate_items(task_type=data["task_type"], items=raw)
        except DomainError as error:
            raise forms.ValidationError(error.message()) from error
        return data

    def _batch_file(self, data: dict[str, Any]) -> StagedUpload | None:
        """A newly chosen file, kept for the next try, or the one kept from an earlier try."""
        if data.get("file") is not None:
            try:
                return uploads.stage_upload(requester=self.requester, upload=data["file"])
            except DomainError as error:
                self.add_error("file", error.message())
                return None
        if data.get("staged_file"):
            staged_id = data["staged_file"]
            staged = (
                selectors.staged_upload(requester=self.requester, upload_id=int(staged_id))
                if staged_id.isdigit() and len(staged_id) < 19
                else None
            )
            if staged is None:
                self.add_error("file", _("The file chosen earlier has expired: choose it again."))
            return staged
        self.add_error("file", _("Choose a JSONL or CSV file."))
        return None


def cost_rows(batch: Batch) -> list[dict[str, Any]]:
    """The batch's cost terms as the upload preview's lines."""
    rows = []
    for term in batch.cost_terms():
        if term.kind == "bonus":
            what = _("Quality bonus for trusted workers, at most")
        else:
            items = (
                ngettext("%(n)d gold item", "%(n)d gold items", term.items)
                if term.kind == "gold"
                else ngettext("%(n)d item", "%(n)d items", term.items)
            ) % {"n": term.items}
            workers = ngettext("%(n)d worker", "%(n)d workers", term.per_item) % {
                "n": term.per_item
            }
            what = f"{items} \N{MULTIPLICATION SIGN} {workers}"
            if term.kind == "gold" and not term.msat_per_rating:
                what += " " + _("(gold answers are not paid)")
        rows.append(
            {
                "kind": term.kind,
                "what": what,
                "ratings": term.ratings,
                "per_rating": msat_as_sats(term.msat_per_rating),
                "amount": msat_as_sats(term.msat),
            }
        )
    return rows


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
        "dashboard_link",
    )
    list_filter = ("status", "task_type")
    search_fields = ("name",)
    readonly_fields = (
        "requester",
        "task_type",
        "reward_msat",
        "overlap",
        "max_overlap",
        "min_confidence",
        "items_count",
        "created_at",
        "progress",
        "export_links",
        "source_model",
        "source_run_id",
    )
    fields = (
        "name",
        "status",
        "instructions",
        ("review_mode", "auto_approve_trust", "review_after_hours"),
        ("pause_below_trust", "min_seconds"),
        *readonly_fields,
    )

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
        return progress_bar(done, batch.ratings_needed, f"{done} / {batch.ratings_needed}")

    @admin.display(description=_("Export"))
    def export_links(self, batch: Batch) -> str:
        url = reverse("batch-export", args=[batch.id])
        return format_html(
            '<a href="{}?format=trl">TRL JSONL</a> · <a href="{}?format=raw">raw</a>', url, url
        )

    # A requester may pause, reopen or cancel a batch; the service decides what may change
    # (a closed batch stays closed) and what cancelling releases.
    REQUESTER_STATUSES = (Batch.Status.OPEN, Batch.Status.PAUSED, Batch.Status.CANCELLED)

    def get_readonly_fields(self, request: HttpRequest, obj: Batch | None = None) -> tuple:
        fields = super().get_readonly_fields(request, obj)
        if obj is not None and obj.status in Batch.CLOSED_STATUSES:
            return ("status", *fields)
        return fields

    def save_model(self, request: HttpRequest, obj: Batch, form: Any, change: bool) -> None:
        # Batches are created by the upload view (add_view); this is the change form.
        changes = {name: form.cleaned_data[name] for name in form.changed_data}
        try:
            batches.update_batch(batch=obj, changes=changes)
        except DomainError as error:  # e.g. the batch completed while the form was open
            self.message_user(request, error.message(), messages.ERROR)

    def formfield_for_choice_field(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "status" and not request.user.is_superuser:
            kwargs["choices"] = [(s.value, s.label) for s in self.REQUESTER_STATUSES]
        return super().formfield_for_choice_field(db_field, request, **kwargs)

    def get_urls(self) -> list:
        return [
            path(
                "<int:batch_id>/dashboard/",
                self.admin_site.admin_view(self.dashboard_view),
                name="labeling_batch_dashboard",
            ),
            *super().get_urls(),
        ]

    def dashboard_view(self, request: HttpRequest, batch_id: int) -> HttpResponse:
        batch = self.get_queryset(request).filter(id=batch_id).first()
        if batch is None:
            return HttpResponseRedirect(reverse("admin:labeling_batch_changelist"))
        data = selectors.batch_dashboard(batch=batch)
        for worker in data["workers"]:
            worker["chart"] = sparkline(worker["history"])
        return TemplateResponse(
            request,
            "admin/labeling/batch/dashboard.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Dashboard: %(name)s") % {"name": batch.name},
                "batch": batch,
                "opts": self.model._meta,
                "gold_chart": bar_chart(
                    data["gold_accuracy"],
                    empty=_("No worker has answered a gold item yet.")
                    if batch.gold_count
                    else _("This batch has no gold items (items with a “gold” answer)."),
                ),
                **data,
            },
        )

    @admin.display(description=_("Dashboard"))
    def dashboard_link(self, batch: Batch) -> str:
        url = reverse("admin:labeling_batch_dashboard", args=[batch.id])
        return format_html('<a href="{}">{}</a>', url, _("quality"))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return hasattr(request.user, "requester") and super().has_add_permission(request)

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_add_permission(request):
            return HttpResponseRedirect(reverse("admin:labeling_batch_changelist"))
        form = BatchUploadForm(
            request.POST or None, request.FILES or None, requester=request.user.requester
        )
        preview = None
        if request.method == "POST" and form.is_valid():
            try:
                preview = batches.new_batch(**form.batch_fields())
                # Confirmed at the cost shown; a field changed since shows the new cost.
                confirmed = request.POST.get("confirm_cost_msat") == str(preview.cost_msat)
                if "create" in request.POST and confirmed:
                    return self._create_batch(request, form)
                if "create" in request.POST:
                    form.add_error(
                        None, _("The cost changed with your last edits: check it and confirm.")
                    )
            except DomainError as error:
                form.add_error(None, error.message())
        context = {
            **self.admin_site.each_context(request),
            "title": _("Upload a batch"),
            "form": form,
            "preview": preview,
            "cost_rows": cost_rows(preview) if preview is not None else [],
            "available_msat": balances.requester_available_msat(request.user.requester)
            if preview is not None
            else None,
            "opts": self.model._meta,
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/labeling/batch/upload.html", context)

    def _create_batch(self, request: HttpRequest, form: BatchUploadForm) -> HttpResponse:
        batch = batches.create_batch(**form.batch_fields())
        if form.staged is not None:
            uploads.discard_upload(upload=form.staged)
        self.message_user(
            request,
            _("Batch “%(name)s” created with %(n)d items; %(cost)s reserved.")
            % {"name": batch.name, "n": batch.items_count, "cost": msat_as_sats(batch.cost_msat)},
            messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("admin:labeling_batch_changelist"))


class ResponseInline(admin.TabularInline):
    model = TaskResponse
    fields = ("key", "text")
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(Item)
class ItemAdmin(OwnRowsMixin, admin.ModelAdmin):
    list_display = ("id", "batch", "position", "short_prompt", "slots_left", "blocked", "is_gold")
    # Only the batches of the rows this admin shows (the requester's own), not every batch.
    list_filter = ("blocked", ("batch", OwnBatchFilter))
    search_fields = ("prompt",)
    readonly_fields = ("batch", "position", "prompt", "gold", "slots_left")
    fields = ("batch", "position", "prompt", "gold", "slots_left", "blocked")
    inlines = [ResponseInline]

    def save_model(self, request: HttpRequest, obj: Item, form: Any, change: bool) -> None:
        assignments.set_item_blocked(item=obj, blocked=form.cleaned_data["blocked"])

    @admin.display(description=_("Prompt"))
    def short_prompt(self, item: Item) -> str:
        return item.prompt[:80]

    @admin.display(boolean=True, description=_("Gold"))
    def is_gold(self, item: Item) -> bool:
        return item.gold is not None


class RejectForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        help_text=_("The workers see this reason next to the rejected rating."),
    )


class FlaggedFilter(admin.SimpleListFilter):
    title = _("flags")
    parameter_name = "flagged"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", _("Flagged")), ("no", _("Not flagged"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "yes":
            return queryset.exclude(flags=[])
        if self.value() == "no":
            return queryset.filter(flags=[])
        return queryset


FLAG_LABELS = {
    "too_fast": _("too fast"),
    "straight_lining": _("straight-lining"),
    "accuracy_drop": _("accuracy drop"),
}
# Cells show this much of a text; the whole text is on hover and on the rating's page.
SHORT_PROMPT = 90
SHORT_RESPONSE = 50
HOVER_LIMIT = 2_000


def shortened(text: str, limit: int) -> str:
    """The text cut to `limit` characters, whole (up to HOVER_LIMIT) in its tooltip."""
    short = Truncator(text).chars(limit)
    if short == text:
        return format_html("{}", text)
    return format_html('<span title="{}">{}</span>', Truncator(text).chars(HOVER_LIMIT), short)


@admin.register(Rating)
class RatingAdmin(OwnRowsMixin, admin.ModelAdmin):
    """The review screen: pending ratings with the task's texts, the answer, flags and trust."""

    list_display = (
        "id",
        "batch_name",
        "prompt",
        "answer",
        "worker_and_trust",
        "checks",
        "status",
        "reward_msat",
    )
    list_filter = ("status", FlaggedFilter, ("batch", OwnBatchFilter))
    fieldsets = (
        (None, {"fields": ("batch", "item", "worker", "status", "reward_msat", "reason")}),
        (_("Task and answer"), {"fields": ("prompt_text", "answer_table", "rationale")}),
        (
            _("Quality"),
            {"fields": ("flags", "gold_correct", "position", "seconds", "trust")},
        ),
        (
            _("Record"),
            {
                "classes": ("collapse",),
                "fields": (
                    "assignment",
                    "ranking",
                    "scores",
                    "shown_at",
                    "created_at",
                    "reviewed_at",
                    "reviewed_by",
                ),
            },
        ),
    )
    readonly_fields = tuple(name for _title, options in fieldsets for name in options["fields"])
    actions = ["approve_selected", "reject_selected"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return selectors.ratings_with_texts(super().get_queryset(request))

    @admin.display(description=_("Batch"), ordering="batch__name")
    def batch_name(self, rating: Rating) -> str:
        return shortened(rating.batch.name, 30)

    @admin.display(description=_("Prompt"))
    def prompt(self, rating: Rating) -> str:
        return shortened(rating.item.prompt, SHORT_PROMPT)

    @admin.display(description=_("Answer (best first)"))
    def answer(self, rating: Rating) -> str:
        responses = selectors.answered_responses(rating=rating)
        if rating.scores is not None:
            return format_html(
                '<ul class="answer">{}</ul>',
                format_html_join(
                    "",
                    "<li><b>{}</b> {}</li>",
                    ((r.score, shortened(r.text, SHORT_RESPONSE)) for r in responses),
                ),
            )
        return format_html(
            '<ol class="answer">{}</ol>',
            format_html_join(
                "", "<li>{}</li>", ((shortened(r.text, SHORT_RESPONSE),) for r in responses)
            ),
        )

    @admin.display(description=_("Prompt"))
    def prompt_text(self, rating: Rating) -> str:
        return format_html('<div class="task-text">{}</div>', linebreaksbr(rating.item.prompt))

    @admin.display(description=_("Answer"))
    def answer_table(self, rating: Rating) -> str:
        responses = selectors.answered_responses(rating=rating)
        likert = rating.scores is not None
        gold = rating.item.gold is not None

        def verdict(response: selectors.AnsweredResponse) -> str:
            if likert:
                return _("score %(score)s of 7") % {"score": response.score}
            if response.rank == 1:
                return _("chosen") if len(responses) == 2 else _("1st (best)")
            return _("not chosen") if len(responses) == 2 else f"{response.rank}."

        def known(response: selectors.AnsweredResponse) -> str:
            if len(responses) == 2:
                return _("right answer") if response.gold_rank == 1 else ""
            return f"{response.gold_rank}."

        head = [_("Answer"), _("Response"), _("Shown"), _("Text")]
        if gold:
            head.append(_("Known answer"))
        rows = format_html_join(
            "",
            '<tr class="{}"><td>{}</td><td>{}</td><td>{}</td><td class="task-text">{}</td>{}</tr>',
            (
                (
                    "chosen" if r.rank == 1 else "",
                    verdict(r),
                    r.key,
                    r.shown_at or "-",
                    linebreaksbr(r.text),
                    format_html("<td>{}</td>", known(r)) if gold else "",
                )
                for r in responses
            ),
        )
        return format_html(
            '<table class="answer-table"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>',
            format_html_join("", "<th>{}</th>", ((title,) for title in head)),
            rows,
        )

    @admin.display(description=_("Trust"))
    def trust(self, rating: Rating) -> str:
        return f"{rating.worker.trust:.2f}"

    @admin.display(description=_("Seconds"))
    def seconds(self, rating: Rating) -> str:
        return f"{rating.seconds_taken:.0f}"

    @admin.display(description=_("Worker, trust"), ordering="worker_id")
    def worker_and_trust(self, rating: Rating) -> str:
        return format_html(
            '{}<br><span class="trust">{}</span>',
            rating.worker_id,
            _("trust %(trust)s") % {"trust": self.trust(rating)},
        )

    @admin.display(description=_("Checks"))
    def checks(self, rating: Rating) -> str:
        """Time taken, quality flags and the gold check, one short line each."""
        lines = [_("%(n)s s") % {"n": self.seconds(rating)}]
        lines += [FLAG_LABELS.get(flag, flag) for flag in rating.flags]
        if rating.gold_correct is not None:
            lines.append(_("gold right") if rating.gold_correct else _("gold wrong"))
        return format_html_join(
            mark_safe("<br>"), '<span class="check">{}</span>', ((line,) for line in lines)
        )

    def _review(
        self, request: HttpRequest, queryset: QuerySet, *, approve: bool, reason: str = ""
    ) -> None:
        requester = getattr(request.user, "requester", None)
        if requester is None:
            self.message_user(
                request, _("Only a batch's requester reviews its ratings."), messages.ERROR
            )
            return
        try:
            count = review.review_ratings(
                requester=requester,
                rating_ids=list(queryset.values_list("id", flat=True)),
                approve=approve,
                reason=reason,
            )
        except DomainError as error:
            self.message_user(request, error.message(), messages.ERROR)
            return
        verb = _("approved") if approve else _("rejected")
        self.message_user(
            request, _("%(n)d rating(s) %(verb)s.") % {"n": count, "verb": verb}, messages.SUCCESS
        )

    @admin.action(description=_("Approve selected ratings (pays the workers)"))
    def approve_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._review(request, queryset, approve=True)

    @admin.action(description=_("Reject selected ratings (with a reason)"))
    def reject_selected(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        form = RejectForm(request.POST if "reason" in request.POST else None)
        if form.is_bound and form.is_valid():
            self._review(request, queryset, approve=False, reason=form.cleaned_data["reason"])
            return None
        return TemplateResponse(
            request,
            "admin/labeling/rating/reject.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Reject ratings"),
                "form": form,
                "ratings": queryset,
                "opts": self.model._meta,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            },
        )


@admin.register(Report)
class ReportAdmin(OwnRowsMixin, admin.ModelAdmin):
    requester_path = "item__batch__requester"
    list_display = ("id", "item", "reason", "note", "resolved", "created_at")
    list_filter = ("resolved", "reason")
    readonly_fields = ("assignment", "item", "worker", "reason", "note", "created_at")
    actions = ["resolve_and_unblock"]

    @admin.action(description=_("Mark resolved and serve the items again"))
    def resolve_and_unblock(self, request: HttpRequest, queryset: QuerySet) -> None:
        requester = getattr(request.user, "requester", None)
        if requester is None and not request.user.is_superuser:
            return  # staff that is neither an operator nor a requester resolves nothing
        assignments.resolve_reports(
            report_ids=list(queryset.values_list("id", flat=True)),
            requester=None if request.user.is_superuser else requester,
        )


admin.site.register(Requester)


@admin.register(Worker)
class WorkerAdmin(admin.ModelAdmin):
    """Workers and their trust; payouts adds what the ledger holds for each (payouts/admin.py)."""

    list_display = ("id", "linking_key", "standing", "trust_score", "created_at")
    list_filter = ("standing",)
    search_fields = ("linking_key",)
    readonly_fields = (
        "user",
        "linking_key",
        "created_at",
        "standing",
        "closed_reason",
        "gold_seen",
        "gold_correct",
    )
    fields = readonly_fields
    actions = ("vouch", "close")

    @admin.action(description=_("Trust selected workers on probation (paid at once from now)"))
    def vouch(self, request: HttpRequest, queryset: QuerySet[Worker]) -> None:
        vouched = sum(review.vouch_for(worker=worker) for worker in queryset.order_by("id"))
        self.message_user(request, _("%(n)d worker(s) trusted.") % {"n": vouched})

    @admin.action(description=_("Close selected workers (reject their waiting ratings)"))
    def close(self, request: HttpRequest, queryset: QuerySet[Worker]) -> None:
        for worker in queryset.order_by("id"):
            review.close_worker(worker=worker, reason=str(_("Closed by the operator.")))
        self.message_user(request, _("%(n)d worker(s) closed.") % {"n": queryset.count()})

    @admin.display(description=_("Trust"))
    def trust_score(self, worker: Worker) -> str:
        return f"{worker.trust:.2f}"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # workers come from a wallet login
