-- Monthly emission loads per monitoring point and pollutant as computed by
-- `lantian assess --loads` (engine, HJ 75-2017): measured load and, apart from it, the load
-- substituted for invalid production hours (修约, chosen by the quarter-to-date capture
-- rate). Recomputable from the minute data; stored so the emission ledgers and reports read
-- them instead of recomputing. month = 'YYYY-MM' (China Standard Time). Owner: loads.
CREATE TABLE IF NOT EXISTS month_load (
    mn                  VARCHAR NOT NULL,
    month               VARCHAR NOT NULL,
    pollutant           VARCHAR NOT NULL,   -- pm, so2, nox, nh3, nmhc, co
    load_kg             DOUBLE NOT NULL,    -- Σ measured hourly loads [kg]
    load_hours          INTEGER,            -- hours with a measured load [h]
    substituted_load_kg DOUBLE,             -- Σ substitute hourly loads [kg]; NULL: not substituted (HJ 75 covers PM, SO2, NOx)
    substituted_hours   INTEGER,            -- hours filled with a substitute [h]
    unsubstituted_hours INTEGER,            -- invalid production hours left open (α < 75 % or no history) [h]
    capture_rate        DOUBLE,             -- quarter-to-date valid/production hours (0–1)
    engine              VARCHAR,
    computed_at         TIMESTAMP DEFAULT current_localtimestamp(),
    PRIMARY KEY (mn, month, pollutant)
);
