from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Demo data, an embedded SMTP server and the `make demo` / `make run` commands."""

    name = "example_project.demo"
    label = "demo"
    verbose_name = "Demo"
