# One outbound record per object written to an outside system, its bounded history, and the
# retry requests of the attention page (the old control table and outcomes follow in 0009).

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('sync', '0007_sage_tables_for_the_stand_in'),
        ('tenants', '0008_labels_and_validators'),
    ]

    operations = [
        migrations.AddField(
            model_name='powatermark',
            name='settings_hash',
            field=models.CharField(blank=True, help_text="The tenant's PO settings it was read with (sync.po_reads.PO_SETTINGS): other settings start it over.", max_length=64),
        ),
        migrations.CreateModel(
            name='Outbound',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('vendor', 'vendor'), ('po', 'purchase order'), ('po_status', 'purchase order status'), ('payment', 'payment'), ('cfdi_import', 'CFDI import'), ('cfdi_status', 'CFDI status'), ('complement', 'payment complement')], max_length=20, verbose_name='kind')),
                ('key', models.CharField(help_text="Our own key of the object: VENDORID's provider, PONUMBER, DOCNBR, the CFDI UUID.", max_length=80, verbose_name='key')),
                ('state', models.CharField(choices=[('pending', 'pending (a write may or may not have reached the outside system)'), ('sent', 'sent (accepted, not yet confirmed)'), ('confirmed', 'confirmed'), ('failed', 'failed'), ('waiting', 'waiting')], default='pending', max_length=10, verbose_name='state')),
                ('content_hash', models.CharField(blank=True, help_text='Hash of the payload the outside system confirmed last.', max_length=64, verbose_name='content hash')),
                ('sent_hash', models.CharField(blank=True, help_text='Hash of the payload last sent or in flight.', max_length=64, verbose_name='hash sent')),
                ('attempts', models.PositiveIntegerField(default=0, verbose_name='failures in a row')),
                ('not_before', models.DateTimeField(blank=True, help_text='A failed record is not tried again before then.', null=True, verbose_name='not before')),
                ('attention', models.CharField(blank=True, choices=[('', '—'), ('permanent', 'refused as it stands'), ('exceeded', 'failed too many times'), ('config', 'a setting must change'), ('person', 'waiting for a person')], default='', max_length=10, verbose_name='needs a person')),
                ('reason_code', models.CharField(blank=True, max_length=100, verbose_name='reason code')),
                ('reason', models.TextField(blank=True, help_text='Why it waits, or what a person is to do about it.', verbose_name='what to do')),
                ('since', models.DateTimeField(blank=True, help_text='When the wait or the need for a person began.', null=True, verbose_name='since')),
                ('last_error', models.CharField(blank=True, max_length=500, verbose_name='last error')),
                ('last_request', models.JSONField(blank=True, default=dict, help_text='Without credentials.', verbose_name='last request sent')),
                ('outside_id', models.CharField(blank=True, help_text="The outside system's id: portal id, Sage vendor, 'batch-entry' of a Sage invoice.", max_length=64, verbose_name='outside id')),
                ('outside_ids', models.JSONField(blank=True, default=dict, verbose_name='outside ids')),
                ('action', models.CharField(blank=True, max_length=20, verbose_name='action')),
                ('step', models.CharField(blank=True, max_length=40, verbose_name='step')),
                ('closed', models.CharField(blank=True, choices=[('', '—'), ('resolved', 'resolved'), ('ignored', 'ignored')], default='', max_length=10, verbose_name='closed as')),
                ('closed_code', models.CharField(blank=True, max_length=100, verbose_name='closed reason code')),
                ('closed_hash', models.CharField(blank=True, max_length=64, verbose_name='closed content hash')),
                ('closed_by', models.CharField(blank=True, max_length=150, verbose_name='closed by')),
                ('closed_at', models.DateTimeField(blank=True, null=True, verbose_name='closed at')),
                ('closed_note', models.TextField(blank=True, verbose_name='note')),
                ('created', models.DateTimeField(auto_now_add=True, verbose_name='created')),
                ('updated', models.DateTimeField(auto_now=True, verbose_name='updated')),
                ('run', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='outbound_records', to='sync.syncrun', verbose_name='last run')),
                ('tenant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='outbound_records', to='tenants.tenant', verbose_name='tenant')),
            ],
            options={
                'verbose_name': 'outbound record',
                'verbose_name_plural': 'outbound records',
            },
        ),
        migrations.CreateModel(
            name='OutboundAttempt',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('at', models.DateTimeField(db_index=True, default=django.utils.timezone.now, verbose_name='when')),
                ('step', models.CharField(blank=True, max_length=40, verbose_name='step')),
                ('action', models.CharField(blank=True, max_length=20, verbose_name='action')),
                ('outcome', models.CharField(choices=[('confirmed', 'confirmed'), ('recovered', 'found already there'), ('failed', 'failed, will retry'), ('refused', 'refused'), ('waiting', 'waiting'), ('unanswered', 'not answered yet'), ('needs_person', 'needs a person'), ('resolved', 'resolved'), ('ignored', 'ignored'), ('retry', 'retry asked')], max_length=20, verbose_name='outcome')),
                ('error_code', models.CharField(blank=True, max_length=100, verbose_name='error code')),
                ('message', models.TextField(blank=True, verbose_name='message')),
                ('request', models.JSONField(blank=True, default=dict, help_text='Without credentials.', verbose_name='request sent')),
                ('outside_ids', models.JSONField(blank=True, default=dict, verbose_name='outside ids')),
                ('by', models.CharField(blank=True, help_text="The person, for a person's action.", max_length=150, verbose_name='by')),
                ('record', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='history', to='sync.outbound', verbose_name='record')),
                ('run', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='attempts', to='sync.syncrun', verbose_name='run')),
            ],
            options={
                'verbose_name': 'outbound attempt',
                'verbose_name_plural': 'outbound attempts',
                'ordering': ['-at', '-id'],
            },
        ),
        migrations.CreateModel(
            name='RetryRequest',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('records', models.JSONField(default=list, help_text='[[kind, key], …]', verbose_name='records')),
                ('state', models.CharField(choices=[('queued', 'queued'), ('running', 'running'), ('done', 'done'), ('busy', 'skipped: the tenant was busy'), ('skipped', 'skipped'), ('failed', 'failed')], default='queued', max_length=10, verbose_name='state')),
                ('requested_by', models.CharField(blank=True, max_length=150, verbose_name='asked by')),
                ('requested_at', models.DateTimeField(db_index=True, default=django.utils.timezone.now, verbose_name='asked at')),
                ('started', models.DateTimeField(blank=True, null=True, verbose_name='started')),
                ('finished', models.DateTimeField(blank=True, null=True, verbose_name='finished')),
                ('note', models.TextField(blank=True, help_text='What became of it.', verbose_name='note')),
                ('run', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='retry_requests', to='sync.syncrun', verbose_name='run')),
                ('tenant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='retry_requests', to='tenants.tenant', verbose_name='tenant')),
            ],
            options={
                'verbose_name': 'retry request',
                'verbose_name_plural': 'retry requests',
                'ordering': ['-requested_at', '-id'],
            },
        ),
        migrations.AddIndex(
            model_name='outbound',
            index=models.Index(fields=['tenant', 'kind', 'state'], name='sync_outbou_tenant__396f30_idx'),
        ),
        migrations.AddIndex(
            model_name='outbound',
            index=models.Index(fields=['attention', 'tenant'], name='sync_outbou_attenti_c2dd88_idx'),
        ),
        migrations.AddIndex(
            model_name='outbound',
            index=models.Index(fields=['state', 'tenant'], name='sync_outbou_state_339c42_idx'),
        ),
        migrations.AddConstraint(
            model_name='outbound',
            constraint=models.UniqueConstraint(fields=('tenant', 'kind', 'key'), name='one_outbound_record_per_object'),
        ),
        migrations.AddIndex(
            model_name='outboundattempt',
            index=models.Index(fields=['record', '-at'], name='sync_outbou_record__c7351e_idx'),
        ),
        migrations.AddIndex(
            model_name='outboundattempt',
            index=models.Index(fields=['run', 'outcome'], name='sync_outbou_run_id_5dc2ea_idx'),
        ),
    ]
