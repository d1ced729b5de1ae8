"""The example company's own page after unsubscribing (MassmailSettings.unsubscribe_url):
a host shows its own page there, so the demo does too instead of a domain nobody serves."""

from django.shortcuts import render


def unsubscribed(request):
    return render(request, "demo/unsubscribed.html")
