//! Reading and writing tensors as NumPy `.npy` files, for checking kernels against NumPy or
//! PyTorch output.
//!
//! Only what the kernels take is accepted: C order, and the dtype asked for ([`Element`]:
//! float32 in either byte order, or the int8 path's uint8, int8 and int32). Anything else is a
//! [`NinError::File`] that says what was found and how to convert it. A file is opened header
//! first ([`open`]): its shape is known, and checked against the bytes the file holds, before
//! any of its data is allocated, so a 100-byte file claiming a terabyte of data is refused at
//! once. Writes go through [`crate::files::write_output`]: a temporary file beside a
//! regular target, renamed into place (a failed run never leaves a partial file), written
//! through to a device or FIFO.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use npyz::{DType, NpyFile, Order, WriterBuilder};

use crate::error::{NinError, Result, shorten};
use crate::format::format_bytes;

/// A type of value the `.npy` files may hold.
pub trait Element: npyz::Deserialize + npyz::AutoSerialize + Copy {
    /// NumPy's name for it.
    const NAME: &'static str;
    /// The header's `descr` strings accepted for it.
    const DESCR: &'static [&'static str];
    /// Bytes per value.
    const BYTES: usize;
}

impl Element for f32 {
    const NAME: &'static str = "float32";
    const DESCR: &'static [&'static str] = &["<f4", ">f4"];
    const BYTES: usize = 4;
}

impl Element for u8 {
    const NAME: &'static str = "uint8";
    const DESCR: &'static [&'static str] = &["|u1"];
    const BYTES: usize = 1;
}

impl Element for i8 {
    const NAME: &'static str = "int8";
    const DESCR: &'static [&'static str] = &["|i1"];
    const BYTES: usize = 1;
}

impl Element for i32 {
    const NAME: &'static str = "int32";
    const DESCR: &'static [&'static str] = &["<i4", ">i4"];
    const BYTES: usize = 4;
}

/// An array read from a `.npy` file.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArray<T = f32> {
    /// Dimensions, outermost first.
    pub shape: Vec<usize>,
    /// Values in C order.
    pub data: Vec<T>,
}

/// Largest header accepted, in bytes. NumPy writes a few hundred (and refuses to read more
/// than 10,000 by default); the format allows 4 GiB, which a hostile file would make us
/// allocate.
const MAX_HEADER_BYTES: usize = 1 << 16;

/// A C-order `.npy` file of `T` whose header has been read and checked; its data is read by
/// [`NpyTensorFile::read`].
pub struct NpyTensorFile<T = f32> {
    path: PathBuf,
    shape: Vec<usize>,
    len: usize,
    npy: NpyFile<BufReader<std::io::Chain<std::io::Cursor<Vec<u8>>, File>>>,
    element: std::marker::PhantomData<T>,
}

/// An f32 `.npy` file opened by [`open_f32`].
pub type NpyF32File = NpyTensorFile<f32>;

impl<T: Element> NpyTensorFile<T> {
    /// Dimensions, outermost first.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Number of values (the product of the shape).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the array has no values (a zero in its shape).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes the values take in memory.
    pub fn bytes(&self) -> u64 {
        (T::BYTES * self.len) as u64
    }

    /// Reads the values. Their memory is reserved with `try_reserve`, so a failed allocation is
    /// an error, not an abort.
    pub fn read(self) -> Result<NpyArray<T>> {
        let Self { path, shape, len, npy, .. } = self;
        let mut data = Vec::new();
        data.try_reserve_exact(len).map_err(|_| {
            NinError::file(&path, format!("cannot allocate {} for its data", format_bytes((T::BYTES * len) as u64)))
        })?;
        let values = npy.data::<T>().map_err(|e| NinError::file(&path, format!("unreadable data: {e}")))?;
        for value in values {
            data.push(value.map_err(|e| NinError::file(&path, format!("truncated or unreadable data: {e}")))?);
        }
        if data.len() != len {
            return Err(NinError::file(
                &path,
                format!("holds {} values, its shape {} needs {len}", data.len(), shorten(&format!("{shape:?}"))),
            ));
        }
        Ok(NpyArray { shape, data })
    }
}

/// Reads the fixed part of a .npy file (magic, version, header length) and its header, and
/// returns the offset of the data and the bytes read. The header length is checked before
/// anything of that length is allocated, and the shape before npyz multiplies it out (an
/// overflowing product would wrap in npyz).
fn read_header(path: &Path, file: &mut File) -> Result<(usize, Vec<u8>)> {
    let mut prefix = Vec::with_capacity(12);
    file.by_ref().take(12).read_to_end(&mut prefix).map_err(|e| NinError::file(path, format!("cannot read: {e}")))?;
    if prefix.len() < 10 || &prefix[..6] != b"\x93NUMPY" {
        return Err(NinError::file(path, "not a valid .npy file: it does not start with the NumPy magic string"));
    }
    let (fixed, header_len) = match prefix[6] {
        1 => (10, u16::from_le_bytes([prefix[8], prefix[9]]) as usize),
        2 | 3 if prefix.len() == 12 => {
            (12, u32::from_le_bytes([prefix[8], prefix[9], prefix[10], prefix[11]]) as usize)
        }
        2 | 3 => return Err(NinError::file(path, "not a valid .npy file: it ends inside its header")),
        v => return Err(NinError::file(path, format!("not a valid .npy file: format version {v} is not 1, 2 or 3"))),
    };
    if header_len > MAX_HEADER_BYTES {
        return Err(NinError::file(
            path,
            format!("not a valid .npy file: its header claims {header_len} bytes; NumPy writes a few hundred"),
        ));
    }
    let mut bytes = prefix;
    let want = fixed + header_len - bytes.len().min(fixed + header_len);
    file.by_ref()
        .take(want as u64)
        .read_to_end(&mut bytes)
        .map_err(|e| NinError::file(path, format!("cannot read: {e}")))?;
    if let Some(shape) = bytes.get(fixed..).and_then(header_shape) {
        if shape.contains(&None) {
            return Err(NinError::file(path, "its shape has a dimension that is not a whole number, 0 or more"));
        }
        let fits = shape
            .iter()
            .try_fold(1u64, |acc, d| d.and_then(|d| acc.checked_mul(d)))
            .is_some_and(|len| len.checked_mul(4).is_some_and(|b| b <= isize::MAX as u64));
        if !fits {
            return Err(NinError::file(path, "its shape holds more values than fit in memory"));
        }
    }
    Ok((fixed + header_len, bytes))
}

/// The `shape` entry of a header's dict, each dimension as a `u64` (`None` for one that is
/// not), or `None` when the header is not a dict with a shape tuple (npyz then says what is
/// wrong with it).
fn header_shape(header: &[u8]) -> Option<Vec<Option<u64>>> {
    let text = std::str::from_utf8(header).ok()?;
    let py_literal::Value::Dict(entries) = text.trim_end().parse().ok()? else { return None };
    let shape = entries.iter().find_map(|(key, value)| match (key, value) {
        (py_literal::Value::String(k), py_literal::Value::Tuple(dims)) if k == "shape" => Some(dims),
        _ => None,
    })?;
    Some(
        shape
            .iter()
            .map(|d| match d {
                py_literal::Value::Integer(i) => u64::try_from(i).ok(),
                _ => None,
            })
            .collect(),
    )
}

/// Opens an f32, C-order `.npy` file and checks its header ([`open`]).
pub fn open_f32(path: &Path) -> Result<NpyF32File> {
    open::<f32>(path)
}

/// The `descr` of a `.npy` file's dtype (`<f4`, `|u1`, ...), from its header alone: to choose
/// what to open it as.
pub fn dtype(path: &Path) -> Result<String> {
    let mut file = File::open(path).map_err(|e| NinError::file(path, format!("cannot open: {e}")))?;
    if file.metadata().is_ok_and(|m| m.is_dir()) {
        return Err(NinError::file(path, "is a directory, not a .npy file"));
    }
    let (_, prefix) = read_header(path, &mut file)?;
    let npy = NpyFile::new(std::io::Cursor::new(prefix))
        .map_err(|e| NinError::file(path, format!("not a valid .npy file: {e}")))?;
    Ok(match npy.dtype() {
        DType::Plain(ts) => ts.to_string(),
        other => other.descr(),
    })
}

/// Opens a C-order `.npy` file of `T` and checks its header: dtype, order, a shape whose size
/// fits in memory addressing and, for a regular file, matches the bytes it holds.
pub fn open<T: Element>(path: &Path) -> Result<NpyTensorFile<T>> {
    let mut file = File::open(path).map_err(|e| NinError::file(path, format!("cannot open: {e}")))?;
    let meta = file.metadata().map_err(|e| NinError::file(path, format!("cannot open: {e}")))?;
    if meta.is_dir() {
        return Err(NinError::file(path, "is a directory, not a .npy file"));
    }
    let (offset, prefix) = read_header(path, &mut file)?;
    // npyz reads the header from the start: the prefix already read, then the rest of the file
    // (a pipe cannot be rewound).
    let npy = NpyFile::new(BufReader::new(std::io::Cursor::new(prefix).chain(file)))
        .map_err(|e| NinError::file(path, format!("not a valid .npy file: {e}")))?;
    let descr = match npy.dtype() {
        DType::Plain(ts) => ts.to_string(),
        other => return Err(NinError::file(path, format!("dtype {} is not {}", other.descr(), T::NAME))),
    };
    if !T::DESCR.contains(&descr.as_str()) {
        return Err(NinError::file(
            path,
            format!("dtype is {descr}, not {} ({}); convert with x.astype(np.{})", T::NAME, T::DESCR[0], T::NAME),
        ));
    }
    if npy.order() == Order::Fortran {
        return Err(NinError::file(path, "array is in Fortran order; save it with np.ascontiguousarray(x)"));
    }
    let too_big = || {
        NinError::file(
            path,
            format!("its shape {} holds more values than fit in memory", shorten(&format!("{:?}", npy.shape()))),
        )
    };
    let shape = npy.shape().iter().map(|&d| usize::try_from(d).map_err(|_| too_big())).collect::<Result<Vec<_>>>()?;
    let len = shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .filter(|len| len.checked_mul(T::BYTES).is_some_and(|b| b <= isize::MAX as usize))
        .ok_or_else(too_big)?;
    // A pipe's length is unknown: its data is read with `try_reserve` and must then be complete.
    let data_bytes = meta.len().saturating_sub(offset as u64);
    let needed = (T::BYTES * len) as u64;
    if meta.is_file() && data_bytes != needed {
        let what = if data_bytes < needed { "truncated: it" } else { "it" };
        return Err(NinError::file(
            path,
            format!(
                "{what} holds {data_bytes} bytes of data, its shape {} of {} needs {needed}",
                shorten(&format!("{shape:?}")),
                T::NAME
            ),
        ));
    }
    Ok(NpyTensorFile { path: path.to_path_buf(), shape, len, npy, element: std::marker::PhantomData })
}

/// Reads an f32, C-order `.npy` file: [`open_f32`], then [`NpyF32File::read`].
pub fn read_f32(path: &Path) -> Result<NpyArray> {
    open_f32(path)?.read()
}

/// Writes `data` with `shape` as an f32 `.npy` file ([`write()`]).
pub fn write_f32(path: &Path, shape: &[usize], data: &[f32]) -> Result<()> {
    write(path, shape, data)
}

/// Writes `data` with `shape` as a `.npy` file of `T`, through [`crate::files::write_output`].
pub fn write<T: Element>(path: &Path, shape: &[usize], data: &[T]) -> Result<()> {
    crate::files::write_output(path, |out| {
        let shape_u64: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
        let mut writer = npyz::WriteOptions::new().default_dtype().shape(&shape_u64).writer(out).begin_nd()?;
        writer.extend(data.iter().copied())?;
        writer.finish()
    })
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
