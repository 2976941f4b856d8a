//! Reading and writing f32 tensors as NumPy `.npy` files, for checking kernels against NumPy or
//! PyTorch output.
//!
//! Only what the kernels take is accepted: dtype float32 (either byte order), C order. Anything
//! else is a [`NinError::File`] that says what was found and how to convert it. Writes go to a
//! temporary file beside the target and are renamed into place, so a failed run never leaves a
//! partial or stale output file.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::Path;

use npyz::{DType, Order, WriterBuilder};

use crate::error::{NinError, Result};

/// An f32 array read from a `.npy` file.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArray {
    /// Dimensions, outermost first.
    pub shape: Vec<usize>,
    /// Values in C order.
    pub data: Vec<f32>,
}

fn file_error(path: &Path, reason: impl Into<String>) -> NinError {
    NinError::File { path: path.display().to_string(), reason: reason.into() }
}

/// Reads an f32, C-order `.npy` file.
pub fn read_f32(path: &Path) -> Result<NpyArray> {
    let file = File::open(path).map_err(|e| file_error(path, format!("cannot open: {e}")))?;
    let npy = npyz::NpyFile::new(BufReader::new(file))
        .map_err(|e| file_error(path, format!("not a valid .npy file: {e}")))?;
    let descr = match npy.dtype() {
        DType::Plain(ts) => ts.to_string(),
        other => return Err(file_error(path, format!("dtype {} is not float32", other.descr()))),
    };
    if descr != "<f4" && descr != ">f4" {
        return Err(file_error(
            path,
            format!("dtype is {descr}, not float32 (<f4); convert with x.astype(np.float32)"),
        ));
    }
    if npy.order() == Order::Fortran {
        return Err(file_error(path, "array is in Fortran order; save it with np.ascontiguousarray(x)"));
    }
    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    let expected: usize = shape.iter().product();
    let data: Vec<f32> = npy.into_vec().map_err(|e| file_error(path, format!("truncated or unreadable data: {e}")))?;
    if data.len() != expected {
        return Err(file_error(path, format!("holds {} values, its shape {shape:?} needs {expected}", data.len())));
    }
    Ok(NpyArray { shape, data })
}

/// Writes `data` with `shape` as an f32 `.npy` file, atomically (temporary file + rename).
pub fn write_f32(path: &Path, shape: &[usize], data: &[f32]) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let err = |e: std::io::Error| file_error(path, format!("cannot write: {e}"));
    let tmp = tempfile::NamedTempFile::new_in(dir).map_err(err)?;
    {
        let mut out = BufWriter::new(tmp.as_file());
        let shape_u64: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
        let mut writer =
            npyz::WriteOptions::new().default_dtype().shape(&shape_u64).writer(&mut out).begin_nd().map_err(err)?;
        writer.extend(data.iter().copied()).map_err(err)?;
        writer.finish().map_err(err)?;
        out.flush().map_err(err)?;
    }
    tmp.persist(path).map_err(|e| err(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_shape_and_values() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.npy");
        let data: Vec<f32> = (0..24).map(|v| v as f32 * 0.5 - 3.0).collect();
        write_f32(&path, &[2, 3, 4], &data).unwrap();
        assert_eq!(read_f32(&path).unwrap(), NpyArray { shape: vec![2, 3, 4], data });
        // Nothing but the target is left in the folder.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn wrong_dtype_fortran_order_truncation_and_missing_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let f64_path = dir.path().join("f64.npy");
        let mut bytes = Vec::new();
        let mut w = npyz::WriteOptions::new().default_dtype().shape(&[2]).writer(&mut bytes).begin_nd().unwrap();
        w.extend([1.0f64, 2.0]).unwrap();
        w.finish().unwrap();
        std::fs::write(&f64_path, &bytes).unwrap();
        assert!(read_f32(&f64_path).unwrap_err().to_string().contains("<f8"));

        let good = dir.path().join("good.npy");
        write_f32(&good, &[4, 4], &[1.0; 16]).unwrap();
        let full = std::fs::read(&good).unwrap();
        let truncated = dir.path().join("truncated.npy");
        std::fs::write(&truncated, &full[..full.len() - 8]).unwrap();
        assert!(read_f32(&truncated).unwrap_err().to_string().contains("truncated"));

        // The same header with fortran_order True (same length, payload intact).
        let fortran = dir.path().join("fortran.npy");
        let mut fbytes = full.clone();
        let at = full.windows(5).position(|w| w == b"False").unwrap();
        fbytes[at..at + 5].copy_from_slice(b"True ");
        std::fs::write(&fortran, &fbytes).unwrap();
        assert!(read_f32(&fortran).unwrap_err().to_string().contains("Fortran"));

        assert!(read_f32(&dir.path().join("missing.npy")).unwrap_err().to_string().contains("cannot open"));
        std::fs::write(dir.path().join("junk.npy"), b"not numpy").unwrap();
        assert!(read_f32(&dir.path().join("junk.npy")).unwrap_err().to_string().contains("not a valid"));
    }
}
