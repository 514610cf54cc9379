"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import plantpulse.data.store.types


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('assets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('asset_type', sa.String(length=64), nullable=False),
    sa.Column('site', sa.String(length=64), nullable=False),
    sa.Column('line', sa.String(length=64), nullable=False),
    sa.Column('model', sa.String(length=64), nullable=True),
    sa.Column('attributes', sa.JSON(), nullable=False),
    sa.Column('created_at', plantpulse.data.store.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assets')),
    sa.UniqueConstraint('name', name=op.f('uq_assets_name'))
    )
    with op.batch_alter_table('assets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assets_asset_type'), ['asset_type'], unique=False)

    op.create_table('channels',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('unit', sa.String(length=32), nullable=False),
    sa.Column('description', sa.String(length=256), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_channels')),
    sa.UniqueConstraint('name', name=op.f('uq_channels_name'))
    )
    op.create_table('ingest_batches',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('connector', sa.String(length=32), nullable=False),
    sa.Column('source', sa.String(length=512), nullable=False),
    sa.Column('content_sha256', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('started_at', plantpulse.data.store.types.UTCDateTime(), nullable=False),
    sa.Column('finished_at', plantpulse.data.store.types.UTCDateTime(), nullable=True),
    sa.Column('rows_total', sa.Integer(), nullable=False),
    sa.Column('rows_loaded', sa.Integer(), nullable=False),
    sa.Column('rows_quarantined', sa.Integer(), nullable=False),
    sa.Column('rows_duplicate', sa.Integer(), nullable=False),
    sa.Column('summary', sa.JSON(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ingest_batches'))
    )
    with op.batch_alter_table('ingest_batches', schema=None) as batch_op:
        batch_op.create_index('uq_ingest_batches_committed_file', ['connector', 'content_sha256'], unique=True, sqlite_where=sa.text("status = 'committed'"), postgresql_where=sa.text("status = 'committed'"))

    op.create_table('job_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('started_at', plantpulse.data.store.types.UTCDateTime(), nullable=False),
    sa.Column('finished_at', plantpulse.data.store.types.UTCDateTime(), nullable=True),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_runs'))
    )
    with op.batch_alter_table('job_runs', schema=None) as batch_op:
        batch_op.create_index('ix_job_runs_job_started', ['job', 'started_at'], unique=False)

    op.create_table('model_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('task', sa.String(length=64), nullable=False),
    sa.Column('stage', sa.String(length=16), nullable=False),
    sa.Column('path', sa.String(length=512), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('metrics', sa.JSON(), nullable=False),
    sa.Column('config', sa.JSON(), nullable=False),
    sa.Column('data_fingerprint', sa.String(length=64), nullable=False),
    sa.Column('created_at', plantpulse.data.store.types.UTCDateTime(), nullable=False),
    sa.Column('promoted_at', plantpulse.data.store.types.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_model_versions')),
    sa.UniqueConstraint('name', 'version', name=op.f('uq_model_versions_name_version'))
    )
    op.create_table('sensor_readings',
    sa.Column('asset_id', sa.Integer(), nullable=False),
    sa.Column('ts', plantpulse.data.store.types.UTCDateTime(), nullable=False),
    sa.Column('channel_id', sa.SmallInteger(), nullable=False),
    sa.Column('value', sa.Float(precision=53), nullable=False),
    sa.Column('status', sa.Integer(), server_default='0', nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('asset_id', 'ts', 'channel_id', name=op.f('pk_sensor_readings')),
    sqlite_with_rowid=False
    )
    op.create_table('maintenance_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('asset_id', sa.Integer(), nullable=True),
    sa.Column('ts', plantpulse.data.store.types.UTCDateTime(), nullable=True),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=True),
    sa.Column('component', sa.String(length=128), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('action', sa.Text(), nullable=True),
    sa.Column('source', sa.String(length=128), nullable=False),
    sa.Column('external_id', sa.String(length=128), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=True),
    sa.Column('created_at', plantpulse.data.store.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['asset_id'], ['assets.id'], name=op.f('fk_maintenance_events_asset_id_assets')),
    sa.ForeignKeyConstraint(['batch_id'], ['ingest_batches.id'], name=op.f('fk_maintenance_events_batch_id_ingest_batches')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_maintenance_events')),
    sa.UniqueConstraint('source', 'external_id', name=op.f('uq_maintenance_events_source_external_id'))
    )
    with op.batch_alter_table('maintenance_events', schema=None) as batch_op:
        batch_op.create_index('ix_maintenance_events_asset_ts', ['asset_id', 'ts'], unique=False)

    op.create_table('predictions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('asset_id', sa.Integer(), nullable=False),
    sa.Column('window_end', plantpulse.data.store.types.UTCDateTime(), nullable=False),
    sa.Column('model_version_id', sa.Integer(), nullable=False),
    sa.Column('rul_mean', sa.Double(), nullable=True),
    sa.Column('rul_lower', sa.Double(), nullable=True),
    sa.Column('rul_upper', sa.Double(), nullable=True),
    sa.Column('rul_quantiles', sa.JSON(), nullable=True),
    sa.Column('fault_probs', sa.JSON(), nullable=False),
    sa.Column('top_fault', sa.String(length=64), nullable=True),
    sa.Column('top_fault_prob', sa.Double(), nullable=True),
    sa.Column('anomaly_score', sa.Double(), nullable=True),
    sa.Column('routing', sa.JSON(), nullable=False),
    sa.Column('created_at', plantpulse.data.store.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['asset_id'], ['assets.id'], name=op.f('fk_predictions_asset_id_assets')),
    sa.ForeignKeyConstraint(['model_version_id'], ['model_versions.id'], name=op.f('fk_predictions_model_version_id_model_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_predictions')),
    sa.UniqueConstraint('asset_id', 'window_end', 'model_version_id', name=op.f('uq_predictions_asset_id_window_end_model_version_id'))
    )
    with op.batch_alter_table('predictions', schema=None) as batch_op:
        batch_op.create_index('ix_predictions_asset_window', ['asset_id', 'window_end'], unique=False)

    op.create_table('quarantined_rows',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=512), nullable=False),
    sa.Column('line', sa.Integer(), nullable=True),
    sa.Column('column', sa.String(length=128), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('raw', sa.Text(), nullable=False),
    sa.Column('created_at', plantpulse.data.store.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['ingest_batches.id'], name=op.f('fk_quarantined_rows_batch_id_ingest_batches')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quarantined_rows'))
    )
    with op.batch_alter_table('quarantined_rows', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_quarantined_rows_batch_id'), ['batch_id'], unique=False)

    op.create_table('weld_images',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('storage_path', sa.String(length=256), nullable=False),
    sa.Column('original_name', sa.String(length=512), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('format', sa.String(length=16), nullable=False),
    sa.Column('asset_id', sa.Integer(), nullable=True),
    sa.Column('captured_at', plantpulse.data.store.types.UTCDateTime(), nullable=True),
    sa.Column('shift', sa.String(length=32), nullable=True),
    sa.Column('batch_id', sa.Integer(), nullable=True),
    sa.Column('created_at', plantpulse.data.store.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['asset_id'], ['assets.id'], name=op.f('fk_weld_images_asset_id_assets')),
    sa.ForeignKeyConstraint(['batch_id'], ['ingest_batches.id'], name=op.f('fk_weld_images_batch_id_ingest_batches')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_weld_images')),
    sa.UniqueConstraint('sha256', name=op.f('uq_weld_images_sha256'))
    )
    with op.batch_alter_table('weld_images', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_weld_images_asset_id'), ['asset_id'], unique=False)

    op.create_table('alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('asset_id', sa.Integer(), nullable=True),
    sa.Column('rule', sa.String(length=64), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('recommended_action', sa.Text(), nullable=False),
    sa.Column('prediction_id', sa.Integer(), nullable=True),
    sa.Column('dedupe_key', sa.String(length=256), nullable=False),
    sa.Column('occurrences', sa.Integer(), nullable=False),
    sa.Column('created_at', plantpulse.data.store.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', plantpulse.data.store.types.UTCDateTime(), nullable=False),
    sa.Column('acknowledged_by', sa.String(length=128), nullable=True),
    sa.Column('acknowledged_at', plantpulse.data.store.types.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['asset_id'], ['assets.id'], name=op.f('fk_alerts_asset_id_assets')),
    sa.ForeignKeyConstraint(['prediction_id'], ['predictions.id'], name=op.f('fk_alerts_prediction_id_predictions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts'))
    )
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alerts_asset_id'), ['asset_id'], unique=False)
        batch_op.create_index('ix_alerts_status_created', ['status', 'created_at'], unique=False)
        batch_op.create_index('uq_alerts_open_dedupe_key', ['dedupe_key'], unique=True, sqlite_where=sa.text("status IN ('open', 'acknowledged')"), postgresql_where=sa.text("status IN ('open', 'acknowledged')"))

    op.create_table('weld_inspections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('image_id', sa.Integer(), nullable=False),
    sa.Column('model_version_id', sa.Integer(), nullable=False),
    sa.Column('verdict', sa.String(length=16), nullable=False),
    sa.Column('reject_score', sa.Double(), nullable=False),
    sa.Column('threshold', sa.Double(), nullable=False),
    sa.Column('boxes', sa.JSON(), nullable=False),
    sa.Column('created_at', plantpulse.data.store.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['image_id'], ['weld_images.id'], name=op.f('fk_weld_inspections_image_id_weld_images')),
    sa.ForeignKeyConstraint(['model_version_id'], ['model_versions.id'], name=op.f('fk_weld_inspections_model_version_id_model_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_weld_inspections')),
    sa.UniqueConstraint('image_id', 'model_version_id', name=op.f('uq_weld_inspections_image_id_model_version_id'))
    )
    with op.batch_alter_table('weld_inspections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_weld_inspections_image_id'), ['image_id'], unique=False)

    op.create_table('weld_labels',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('image_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('boxes', sa.JSON(), nullable=False),
    sa.Column('verdict', sa.String(length=16), nullable=True),
    sa.Column('author', sa.String(length=128), nullable=False),
    sa.Column('inspection_id', sa.Integer(), nullable=True),
    sa.Column('created_at', plantpulse.data.store.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['image_id'], ['weld_images.id'], name=op.f('fk_weld_labels_image_id_weld_images')),
    sa.ForeignKeyConstraint(['inspection_id'], ['weld_inspections.id'], name=op.f('fk_weld_labels_inspection_id_weld_inspections')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_weld_labels'))
    )
    with op.batch_alter_table('weld_labels', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_weld_labels_image_id'), ['image_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('weld_labels', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_weld_labels_image_id'))

    op.drop_table('weld_labels')
    with op.batch_alter_table('weld_inspections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_weld_inspections_image_id'))

    op.drop_table('weld_inspections')
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index('uq_alerts_open_dedupe_key', sqlite_where=sa.text("status IN ('open', 'acknowledged')"), postgresql_where=sa.text("status IN ('open', 'acknowledged')"))
        batch_op.drop_index('ix_alerts_status_created')
        batch_op.drop_index(batch_op.f('ix_alerts_asset_id'))

    op.drop_table('alerts')
    with op.batch_alter_table('weld_images', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_weld_images_asset_id'))

    op.drop_table('weld_images')
    with op.batch_alter_table('quarantined_rows', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_quarantined_rows_batch_id'))

    op.drop_table('quarantined_rows')
    with op.batch_alter_table('predictions', schema=None) as batch_op:
        batch_op.drop_index('ix_predictions_asset_window')

    op.drop_table('predictions')
    with op.batch_alter_table('maintenance_events', schema=None) as batch_op:
        batch_op.drop_index('ix_maintenance_events_asset_ts')

    op.drop_table('maintenance_events')
    op.drop_table('sensor_readings')
    op.drop_table('model_versions')
    with op.batch_alter_table('job_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_job_runs_job_started')

    op.drop_table('job_runs')
    with op.batch_alter_table('ingest_batches', schema=None) as batch_op:
        batch_op.drop_index('uq_ingest_batches_committed_file', sqlite_where=sa.text("status = 'committed'"), postgresql_where=sa.text("status = 'committed'"))

    op.drop_table('ingest_batches')
    op.drop_table('channels')
    with op.batch_alter_table('assets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assets_asset_type'))

    op.drop_table('assets')
