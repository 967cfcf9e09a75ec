-- Optional vehicle type of a gate record (heavy truck, tanker, ...). Owner: ledgers.
ALTER TABLE gate_record ADD COLUMN IF NOT EXISTS vehicle_type VARCHAR;
