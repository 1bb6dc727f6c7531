# The import attempts are the history of each CFDI's import record in sync now (carried over by
# sync 0009 before this removes them).

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('cfdi', '0007_tax_lines'),
        ('sync', '0009_carry_over_to_outbound_records'),
    ]

    operations = [
        migrations.DeleteModel(
            name='ImportAttempt',
        ),
    ]
