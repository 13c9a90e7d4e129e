from django.db import migrations, models


def carry_over(apps, schema_editor):
    # Organisations that required approval keep one approver; the others keep none.
    Organisation = apps.get_model("accounts", "Organisation")
    Organisation.objects.filter(requires_approval=False).update(approval_steps=0)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_audit_append_only_trigger")]

    operations = [
        migrations.AddField(
            model_name="organisation",
            name="approval_steps",
            field=models.PositiveSmallIntegerField(
                choices=[
                    (0, "No approval"),
                    (1, "One approver"),
                    (2, "Two steps (e.g. head of public relations, then leadership)"),
                ],
                default=1,
                verbose_name="approval before publishing",
            ),
        ),
        migrations.RunPython(carry_over, migrations.RunPython.noop),
        migrations.RemoveField(model_name="organisation", name="requires_approval"),
    ]
