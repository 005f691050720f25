"""Operators' view of the money: transfers and their entries, balances, deposits, and
withdrawals with a reconcile action for stuck or failed payments. Read-only: money only
moves through services."""

from datetime import timedelta
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from labeling.admin import WorkerAdmin
from labeling.models import Worker

from . import selectors
from .models import Account, Deposit, Entry, LightningAddress, Transfer, Withdrawal
from .services.deposits import refresh_deposit
from .services.withdrawals import reconcile_withdrawal


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class EntryInline(admin.TabularInline):
    model = Entry
    fields = ("account", "amount_msat")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Transfer)
class TransferAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "reference", "amount_msat", "batch", "created_at")
    list_filter = ("kind", "created_at")
    search_fields = ("reference",)
    date_hierarchy = "created_at"
    inlines = [EntryInline]


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ("key", "kind", "balance_msat", "requester", "worker", "batch")
    list_filter = ("kind",)
    search_fields = ("key", "requester__user__username")
    ordering = ("kind", "key")


@admin.register(Deposit)
class DepositAdmin(ReadOnlyAdmin):
    list_display = ("id", "requester", "amount_msat", "status", "created_at", "paid_at")
    list_filter = ("status", "created_at")
    search_fields = ("payment_hash", "requester__user__username")
    actions = ["refresh_from_node"]

    @admin.action(description=_("Ask the node again (credits paid deposits once)"))
    def refresh_from_node(self, request: HttpRequest, queryset: QuerySet[Deposit]) -> None:
        paid = sum(refresh_deposit(deposit=d).status == Deposit.Status.PAID for d in queryset)
        self.message_user(request, _("%(n)d paid.") % {"n": paid})


class StuckFilter(admin.SimpleListFilter):
    title = _("needs attention")
    parameter_name = "attention"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("stuck", _("Paying for over 10 minutes")), ("failed", _("Failed"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "stuck":
            return queryset.filter(
                status=Withdrawal.Status.PAYING,
                invoice_accepted_at__lte=timezone.now() - timedelta(minutes=10),
            )
        if self.value() == "failed":
            return queryset.filter(status=Withdrawal.Status.FAILED)
        return queryset


@admin.register(Withdrawal)
class WithdrawalAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "worker",
        "amount_msat",
        "fee_msat",
        "status",
        "created_at",
        "invoice_accepted_at",
        "finished_at",
    )
    list_filter = (StuckFilter, "status", "created_at")
    search_fields = ("payment_hash", "k1", "worker__linking_key")
    date_hierarchy = "created_at"
    actions = ["reconcile"]

    @admin.action(description=_("Reconcile with the node (never pays twice)"))
    def reconcile(self, request: HttpRequest, queryset: QuerySet[Withdrawal]) -> None:
        results = [
            reconcile_withdrawal(withdrawal_id=w.id)
            for w in queryset.filter(status=Withdrawal.Status.PAYING)
        ]
        self.message_user(
            request,
            _("%(n)d reconciled: %(done)d finished, the others are still paying.")
            % {"n": len(results), "done": sum(r != Withdrawal.Status.PAYING for r in results)},
            messages.INFO,
        )


@admin.register(LightningAddress)
class LightningAddressAdmin(ReadOnlyAdmin):
    list_display = (
        "worker",
        "address",
        "threshold_msat",
        "enabled",
        "failures",
        "retry_at",
        "last_error",
        "updated_at",
    )
    list_filter = ("enabled",)
    search_fields = ("address", "worker__linking_key")


class WorkerMoneyAdmin(WorkerAdmin):
    """The worker's page with what the ledger holds for it (labeling knows no money)."""

    readonly_fields = (*WorkerAdmin.readonly_fields, "money")
    fields = readonly_fields

    @admin.display(description=_("Money (msat)"))
    def money(self, worker: Worker) -> str:
        balances = selectors.worker_balances(worker=worker)
        return ", ".join(
            f"{name.removesuffix('_msat')}: {value}" for name, value in balances.items()
        )


admin.site.unregister(Worker)
admin.site.register(Worker, WorkerMoneyAdmin)
