from django.contrib import admin

from ..models import Attachment, Message, Signature
from .owned import OwnedAdmin


class AttachmentInline(admin.TabularInline):
    model = Attachment
    extra = 0


@admin.register(Message)
class MessageAdmin(OwnedAdmin):
    list_display = ("subject", "owner", "signature", "updated_at")
    search_fields = ("subject",)
    inlines = [AttachmentInline]


@admin.register(Signature)
class SignatureAdmin(OwnedAdmin):
    list_display = ("name", "owner", "default")
