"""Training runs in the admin: start one from selected batches, watch it, read its results.

A requester (staff, not superuser) sees only the runs it started and trains only on its own
batches; the run's files are served from its own folder only.
"""

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from core.errors import DomainError
from labeling.charts import progress_bar
from labeling.models import Batch

from . import selectors
from .models import TrainingRun
from .services import runs
from .services.config import TINY, base_models

# Files a run's page links to, and the sub-folder of the run directory each one lives in.
RUN_FILES = {
    "curves.png": "model",
    "metrics.json": "model",
    "train.jsonl": "data",
    "eval.jsonl": "data",
    "README.md": "data",
    "prompts.jsonl": "data",
}
TINY_HELP = _(
    "'tiny' trains a tiny offline model (a smoke test in seconds); the others are the base "
    "models the operator registered (TRAINING_BASE_MODELS)."
)


def model_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(base_models())]


class RewardRunForm(forms.Form):
    model = forms.ChoiceField(choices=model_choices, initial=TINY, help_text=TINY_HELP)
    epochs = forms.FloatField(initial=1.0)
    lr = forms.FloatField(initial=1e-4, label=_("Learning rate"))
    batch_size = forms.IntegerField(initial=8, help_text=_("Pairs per optimizer step."))
    max_length = forms.IntegerField(initial=1024, help_text=_("Longest prompt + answer, tokens."))
    lora = forms.BooleanField(required=False, help_text=_("Train LoRA adapters (big models)."))
    kind = TrainingRun.Kind.REWARD_MODEL


class PolicyRunForm(forms.Form):
    policy = forms.ChoiceField(choices=model_choices, initial=TINY, help_text=TINY_HELP)
    algo = forms.ChoiceField(choices=[("ppo", "PPO"), ("grpo", "GRPO"), ("rloo", "RLOO")])
    steps = forms.IntegerField(initial=20)
    batch_size = forms.IntegerField(initial=8, help_text=_("Answers generated per step."))
    max_new_tokens = forms.IntegerField(initial=48)
    lr = forms.FloatField(initial=1e-6, label=_("Learning rate"))
    kl_coef = forms.FloatField(initial=0.05, label=_("KL coefficient"))
    kind = TrainingRun.Kind.POLICY


def start_run_from_action(
    request: HttpRequest,
    queryset: QuerySet,
    *,
    form_class: type[forms.Form],
    batches: Any,
    extra: dict[str, Any],
    title: str,
) -> HttpResponse | None:
    """An action's intermediate page: the form, then a queued run and its page."""
    form = form_class(request.POST if "start_run" in request.POST else None)
    if form.is_valid():
        try:
            run = runs.start_run(
                kind=form_class.kind,
                batches=batches,
                config=form.cleaned_data | extra,
                started_by=request.user,
                queue=True,
            )
        except DomainError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("Run %(id)s queued.") % {"id": run.id})
            return HttpResponseRedirect(
                reverse("admin:rewardmodel_trainingrun_change", args=[run.id])
            )
    return TemplateResponse(
        request,
        "admin/rewardmodel/start_run.html",
        {
            **admin.site.each_context(request),
            "title": title,
            "form": form,
            "selected": queryset,
            "action": request.POST.get("action", ""),
            "checkbox_name": ACTION_CHECKBOX_NAME,
            "opts": queryset.model._meta,
        },
    )


@admin.action(description=_("Train a reward model on selected batches"))
def train_reward_model(modeladmin: Any, request: HttpRequest, queryset: QuerySet) -> Any:
    return start_run_from_action(
        request,
        queryset,
        form_class=RewardRunForm,
        batches=queryset,
        extra={},
        title=_("Train a reward model"),
    )


def add_batch_actions() -> None:
    """Called from AppConfig.ready(): labeling's BatchAdmin gets our action."""
    try:
        batch_admin = admin.site.get_model_admin(Batch)
    except admin.exceptions.NotRegistered:
        return
    if train_reward_model not in batch_admin.actions:
        batch_admin.actions = (*batch_admin.actions, train_reward_model)


@admin.register(TrainingRun)
class TrainingRunAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "kind",
        "status",
        "progress_bar",
        "batch_names",
        "headline",
        "started_by",
        "created_at",
    )
    list_filter = ("kind", "status")
    actions = ["tune_policy"]
    fieldsets = (
        (None, {"fields": ("kind", "status", "progress_bar", "batch_names", "started_by")}),
        (_("Result"), {"fields": ("error_text", "metrics_table", "curves", "files")}),
        (_("Configuration"), {"fields": ("config_text", "artifact_path", "dataset_path")}),
        (_("Timing"), {"fields": ("created_at", "started_at", "finished_at")}),
        (_("Log"), {"fields": ("logs",), "classes": ("collapse",)}),
    )
    readonly_fields = (
        "kind",
        "status",
        "progress_bar",
        "batch_names",
        "started_by",
        "error_text",
        "metrics_table",
        "curves",
        "files",
        "config_text",
        "artifact_path",
        "dataset_path",
        "created_at",
        "started_at",
        "finished_at",
        "logs",
    )

    # Requesters have no model permissions on this app: a run is theirs to see if they
    # started it (get_queryset), and they start runs through actions, not the add form.
    def has_module_permission(self, request: HttpRequest) -> bool:
        user = request.user
        return user.is_active and (user.is_superuser or hasattr(user, "requester"))

    def has_view_permission(self, request: HttpRequest, obj: TrainingRun | None = None) -> bool:
        return self.has_module_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: TrainingRun | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: TrainingRun | None = None) -> bool:
        return request.user.is_superuser

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        runs = selectors.visible_runs(user=request.user)
        return runs.select_related("started_by").prefetch_related("batches")

    def get_urls(self) -> list:
        file_view = self.admin_site.admin_view(self.run_file)
        return [
            path("<int:run_id>/files/<str:name>", file_view, name="rewardmodel_trainingrun_file"),
            *super().get_urls(),
        ]

    def run_file(self, request: HttpRequest, run_id: int, name: str) -> FileResponse:
        """A file of one of the user's runs, by name from RUN_FILES; nothing else on disk."""
        run = self.get_queryset(request).filter(id=run_id).first()
        if run is None or name not in RUN_FILES:
            raise Http404
        base = run.directory.resolve()
        file = (base / RUN_FILES[name] / name).resolve()
        if not file.is_relative_to(base) or not file.is_file():
            raise Http404
        return FileResponse(file.open("rb"), as_attachment=name != "curves.png", filename=name)

    def file_url(self, run: TrainingRun, name: str) -> str:
        return reverse("admin:rewardmodel_trainingrun_file", args=[run.id, name])

    @admin.display(description=_("Progress"))
    def progress_bar(self, run: TrainingRun) -> str:
        percent = round(100 * run.progress)
        return progress_bar(percent, 100, f"{percent}% {run.progress_message}")

    @admin.display(description=_("Batches"))
    def batch_names(self, run: TrainingRun) -> str:
        return ", ".join(f"{b.name} (#{b.id})" for b in run.batches.all())

    @admin.display(description=_("Result"))
    def headline(self, run: TrainingRun) -> str:
        metrics = run.metrics or {}
        if "eval_accuracy" in metrics:
            return f"eval accuracy {metrics['eval_accuracy']:.3f}"
        if metrics.get("reward_gain") is not None:
            return f"reward {metrics['reward_before']:.3f} → {metrics['reward_after']:.3f}"
        return run.error[:80]

    @admin.display(description=_("Error"))
    def error_text(self, run: TrainingRun) -> str:
        return format_html('<pre class="training-error">{}</pre>', run.error) if run.error else "-"

    @admin.display(description=_("Metrics"))
    def metrics_table(self, run: TrainingRun) -> str:
        rows = [
            (key, f"{value:.4g}" if isinstance(value, float) else value)
            for key, value in (run.metrics or {}).items()
            if not isinstance(value, dict | list)
        ]
        if not rows:
            return "-"
        body = format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows)
        return format_html("<table>{}</table>", body)

    @admin.display(description=_("Curves"))
    def curves(self, run: TrainingRun) -> str:
        if not (run.directory / "model" / "curves.png").is_file():
            return "-"
        return format_html(
            '<img src="{}" alt="{}" width="800">',
            self.file_url(run, "curves.png"),
            _("Loss and pairwise accuracy per step, train and eval"),
        )

    @admin.display(description=_("Files"))
    def files(self, run: TrainingRun) -> str:
        present = [
            (self.file_url(run, name), name)
            for name, folder in RUN_FILES.items()
            if name != "curves.png" and (run.directory / folder / name).is_file()
        ]
        return format_html_join(" · ", '<a href="{}">{}</a>', present) or "-"

    @admin.display(description=_("Config"))
    def config_text(self, run: TrainingRun) -> str:
        return format_html("<pre>{}</pre>", json.dumps(run.config, indent=2))

    @admin.display(description=_("Last log lines"))
    def logs(self, run: TrainingRun) -> str:
        return format_html("<pre>{}</pre>", run.logs_tail) if run.logs_tail else "-"

    @admin.action(description=_("Tune a policy against the selected reward model"))
    def tune_policy(self, request: HttpRequest, queryset: QuerySet) -> Any:
        runs = list(queryset[:2])
        if len(runs) != 1 or runs[0].kind != TrainingRun.Kind.REWARD_MODEL:
            self.message_user(request, _("Select one reward model run."), messages.ERROR)
            return None
        run = runs[0]
        return start_run_from_action(
            request,
            queryset,
            form_class=PolicyRunForm,
            batches=run.batches.all(),
            extra={"reward_model": run.id},
            title=_("Tune a policy against reward model run %(id)s") % {"id": run.id},
        )
