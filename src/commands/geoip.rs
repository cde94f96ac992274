use crate::cli::GeoipArgs;
use crate::error::{Error, Result};

pub fn run(_args: GeoipArgs) -> Result<()> {
    Err(Error::runtime("`geoip` is not built yet"))
}
