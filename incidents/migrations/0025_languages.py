from django.db import migrations, models

# The coach's Spanish list as first shipped (incidents.coach.DEFAULT_PHRASES["es"]), copied here so the
# migration stays what it was when the code's list changes: every existing organization gets it to edit.
SPANISH_PHRASES = [
    ("si lo que dice es correcto", "conditional", "Siento mucho que le haya pasado esto."),
    ("si se siente así", "conditional", "Lo siento; entiendo que esto le haya molestado."),
    ("si le ha molestado", "conditional", "Siento mucho haberle causado esta molestia."),
    ("si eso es lo que pasó", "conditional", "Siento que haya pasado esto."),
    ("perdone si", "conditional", "Siento que…"),
    ("disculpe si", "conditional", "Siento que…"),
    ("acepte mis disculpas", "dismissive", "Lo siento de verdad. Permítame solucionarlo."),
    ("acepte nuestras disculpas", "dismissive", "Lo siento de verdad. Permítame solucionarlo."),
    ("lamentamos cualquier inconveniente", "dismissive", "Siento las molestias que le hemos causado."),
    ("disculpe las molestias", "dismissive", "Siento de verdad las molestias que le hemos causado."),
    ("tenemos un personal maravilloso", "defensive", "Siento que hoy le hayamos fallado."),
    ("me sorprende", "defensive", "Tiene toda la razón en esperar más de nosotros."),
    ("esto nunca pasa", "defensive", "Siento que le haya pasado a usted."),
    ("es nuestra política", "policy", "Déjeme ver qué puedo hacer por usted."),
    ("política de la empresa", "policy", "Déjeme ver qué puedo hacer por usted."),
    ("no está permitido", "policy", "Esto es lo que puedo hacer por usted…"),
    ("no permitimos", "policy", "Esto es lo que puedo hacer por usted…"),
    ("tendrá que hablar con un encargado", "policy", "Yo me ocupo personalmente de esto."),
    ("no es mi departamento", "policy", "Me aseguro de que se lo resuelvan."),
    ("no puedo hacer nada", "policy", "Esto es lo que puedo hacer ahora mismo…"),
]

LANGUAGES = [("en", "English"), ("es", "Español")]


def add_spanish_phrases(apps, schema_editor):
    Organization = apps.get_model("incidents", "Organization")
    CoachPhrase = apps.get_model("incidents", "CoachPhrase")
    for organization_id in Organization.objects.values_list("pk", flat=True):
        CoachPhrase.objects.bulk_create(
            [CoachPhrase(organization_id=organization_id, language="es", phrase=phrase, kind=kind, suggestion=suggestion)
             for phrase, kind, suggestion in SPANISH_PHRASES],
            ignore_conflicts=True,
        )


def remove_spanish_phrases(apps, schema_editor):
    apps.get_model("incidents", "CoachPhrase").objects.filter(language="es").delete()


class Migration(migrations.Migration):
    dependencies = [("incidents", "0024_business_calendar")]

    operations = [
        migrations.AddField(
            model_name="user",
            name="language",
            field=models.CharField(
                blank=True, choices=LANGUAGES, max_length=10,
                help_text="The language of the pages and of what is written to them; empty: their browser's.",
            ),
        ),
        migrations.AddField(
            model_name="organization",
            name="language",
            field=models.CharField(
                choices=LANGUAGES, default="en", max_length=10,
                help_text="Messages to a customer whose language is not known are written in it, and staff without "
                          "a language of their own are written to in it.",
            ),
        ),
        # Every phrase so far is English; the list becomes one per language.
        migrations.AddField(
            model_name="coachphrase",
            name="language",
            field=models.CharField(choices=LANGUAGES, default="en", max_length=10),
        ),
        migrations.RemoveConstraint(model_name="coachphrase", name="coach_phrase_unique"),
        migrations.AddConstraint(
            model_name="coachphrase",
            constraint=models.UniqueConstraint(fields=("organization", "language", "phrase"),
                                               name="coach_phrase_unique_in_language"),
        ),
        migrations.AlterModelOptions(name="coachphrase", options={"ordering": ["language", "phrase"]}),
        migrations.RunPython(add_spanish_phrases, remove_spanish_phrases),
    ]
