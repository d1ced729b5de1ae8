"""The example CRM's recipient sources: all massmail needs to know about it."""

from massmail.recipients import RecipientSource

PERSON_FIELDS = ("first_name", "last_name", "full_name", "company")


class ContactSource(RecipientSource):
    model = "crm.Contact"
    subscribed_field = "massmail"
    merge_fields = PERSON_FIELDS
    select_related = ("company",)

    def eligible(self, queryset):
        return queryset.filter(disqualified=False)

    def merge_values(self, record):
        return {
            "first_name": record.first_name,
            "last_name": record.last_name,
            "full_name": str(record),
            "company": record.company.name if record.company else "",
        }


class LeadSource(RecipientSource):
    model = "crm.Lead"
    subscribed_field = "massmail"
    merge_fields = PERSON_FIELDS

    def eligible(self, queryset):
        return queryset.filter(disqualified=False)

    def merge_values(self, record):
        return {
            "first_name": record.first_name,
            "last_name": record.last_name,
            "full_name": str(record),
            "company": record.company_name,
        }


class CompanySource(RecipientSource):
    model = "crm.Company"
    subscribed_field = "massmail"
    merge_fields = ("company",)

    def merge_values(self, record):
        return {"company": record.name}
