//! The desktop Bluetooth scanner (feature `ble`): btleplug listens for Exposure Notification
//! advertisements (service data of 0xFD6F) through BlueZ on Linux, Core Bluetooth on macOS,
//! WinRT on Windows. It only scans: btleplug cannot advertise, and a desktop is not the phone
//! people carry; broadcasting is the phone platforms' job (`BleTransport` in the shells).

use std::time::Duration;

use btleplug::api::{Central, CentralEvent, Manager as _, Peripheral as _, ScanFilter};
use btleplug::platform::Manager;
use carnet::exposure_notification::ExposureError;
use carnet::exposure_notification::radio::{
    Advertisement, BleTransport, Reception, SERVICE_UUID_FULL,
};
use futures::StreamExt;

/// The first Bluetooth adapter of this computer, scanning on a runtime of its own.
pub struct DesktopScanner {
    runtime: tokio::runtime::Runtime,
}

impl DesktopScanner {
    /// A scanner (the adapter is looked up at each scan).
    pub fn new() -> Result<Self, ExposureError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ExposureError::Radio(e.to_string()))?;
        Ok(DesktopScanner { runtime })
    }
}

fn radio(error: impl std::fmt::Display) -> ExposureError {
    ExposureError::Radio(error.to_string())
}

impl BleTransport for DesktopScanner {
    fn advertise(&self, _advertisement: &Advertisement) -> Result<(), ExposureError> {
        Err(ExposureError::Radio(
            "a desktop scanner cannot advertise (btleplug only scans)".into(),
        ))
    }

    fn scan(&self, seconds: u32) -> Result<Vec<Reception>, ExposureError> {
        let service = uuid::Uuid::parse_str(SERVICE_UUID_FULL).map_err(radio)?;
        self.runtime.block_on(async {
            let manager = Manager::new().await.map_err(radio)?;
            let adapter = manager
                .adapters()
                .await
                .map_err(radio)?
                .into_iter()
                .next()
                .ok_or_else(|| ExposureError::Radio("no Bluetooth adapter".into()))?;
            let mut events = adapter.events().await.map_err(radio)?;
            adapter
                .start_scan(ScanFilter {
                    services: vec![service],
                })
                .await
                .map_err(radio)?;
            let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds.into());
            let mut receptions = Vec::new();
            while let Ok(Some(event)) = tokio::time::timeout_at(deadline, events.next()).await {
                let CentralEvent::ServiceDataAdvertisement { id, service_data } = event else {
                    continue;
                };
                let Some(data) = service_data.get(&service) else {
                    continue;
                };
                let rssi = match adapter.peripheral(&id).await {
                    Ok(peripheral) => peripheral
                        .properties()
                        .await
                        .ok()
                        .flatten()
                        .and_then(|properties| properties.rssi),
                    Err(_) => None,
                };
                let Some(rssi) = rssi.and_then(|rssi| i8::try_from(rssi).ok()) else {
                    continue;
                };
                let time = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |since| since.as_secs() as i64);
                receptions.extend(Reception::of_service_data(data, rssi, time));
            }
            let _ = adapter.stop_scan().await;
            Ok(receptions)
        })
    }
}
