//! A small, bounded reader for the Python-2 pickles of the Planetoid files.
//!
//! It understands only the opcodes those files use (protocol ≤ 2: strings, small ints, tuples,
//! lists, dicts, memo, `REDUCE`/`NEWOBJ`/`BUILD`) and rebuilds only six known globals:
//! `numpy.core.multiarray._reconstruct`, `numpy.ndarray`, `numpy.dtype`,
//! `scipy.sparse.csr.csr_matrix`, `collections.defaultdict` and `__builtin__.list`. Nothing is
//! ever executed: any other global, opcode or call shape is an error.
//!
//! Bounds, so a hostile file cannot make it allocate more than a small multiple of its own size
//! or recurse without limit:
//! - every length read from the file is checked against the bytes that remain before anything is
//!   allocated;
//! - an array's byte count must equal `prod(shape) × itemsize` (checked multiplication), so the
//!   shape cannot claim more elements than the file holds;
//! - containers nest at most [`MAX_DEPTH`] deep, and a list, dict or object is frozen once it is
//!   placed inside another value (no cycles, no growth after the fact); a list or dict is placed
//!   at most once (the memo cannot repeat one list under many keys);
//! - every dimension of an array is at most the file's size (a zero elsewhere in the shape
//!   cannot free the others).

use std::cell::RefCell;
use std::rc::Rc;

/// The deepest nesting of containers accepted.
pub const MAX_DEPTH: usize = 32;

/// Why a pickle was rejected: the byte offset of the opcode and the cause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("pickle offset {offset}: {reason}")]
pub struct PickleError {
    /// Offset of the opcode being read.
    pub offset: usize,
    /// What was wrong.
    pub reason: String,
}

/// The only callables and classes this reader rebuilds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Global {
    /// `numpy.core.multiarray._reconstruct`
    Reconstruct,
    /// `numpy.ndarray`
    NdArray,
    /// `numpy.dtype`
    Dtype,
    /// `scipy.sparse.csr.csr_matrix`
    CsrMatrix,
    /// `collections.defaultdict`
    DefaultDict,
    /// `__builtin__.list`
    List,
}

/// A numpy dtype of fixed size: kind (`i`, `u`, `f`, `b`), item size and byte order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dtype {
    /// `i`, `u`, `f` or `b`.
    pub kind: u8,
    /// Bytes per element.
    pub size: usize,
    /// True for big-endian data (`>`).
    pub big_endian: bool,
}

/// A numpy array: shape, dtype and its raw bytes.
#[derive(Debug, Clone)]
pub struct Array {
    /// Shape (C order).
    pub shape: Vec<usize>,
    /// Element type; `None` until the array is built.
    pub dtype: Option<Dtype>,
    /// Raw element bytes, `prod(shape) × dtype.size` of them.
    pub data: Rc<[u8]>,
}

/// An instance of a known class (`csr_matrix`) with the state given to `BUILD`.
#[derive(Debug, Clone)]
pub struct Object {
    /// Its class.
    pub class: Global,
    /// The state dict, once built.
    pub state: Option<Value>,
    frozen: bool,
    depth: usize,
}

/// A growable container (list or dict) with its nesting depth and frozen flag.
#[derive(Debug, Clone)]
pub struct Container<T> {
    /// Items.
    pub items: Vec<T>,
    depth: usize,
    frozen: bool,
}

/// A value on the unpickler's stack.
#[derive(Debug, Clone)]
pub enum Value {
    /// `None`
    None,
    /// `True` / `False`
    Bool(bool),
    /// An integer that fits in `i64`.
    Int(i64),
    /// A Python-2 `str` (bytes) or a unicode string's UTF-8 bytes.
    Bytes(Rc<[u8]>),
    /// A tuple and its nesting depth.
    Tuple(Rc<(Vec<Value>, usize)>),
    /// A list.
    List(Rc<RefCell<Container<Value>>>),
    /// A dict (or defaultdict), in insertion order.
    Dict(Rc<RefCell<Container<(Value, Value)>>>),
    /// A known global.
    Global(Global),
    /// A numpy dtype.
    Dtype(Rc<RefCell<Dtype>>),
    /// A numpy array.
    Array(Rc<RefCell<Array>>),
    /// An object of a known class.
    Object(Rc<RefCell<Object>>),
}

impl Value {
    fn depth(&self) -> usize {
        match self {
            Value::Tuple(t) => t.1,
            Value::List(l) => l.borrow().depth,
            Value::Dict(d) => d.borrow().depth,
            Value::Object(o) => o.borrow().depth,
            Value::Array(_) => 1,
            _ => 0,
        }
    }

    /// Freezes a mutable value that is being placed inside another one.
    fn freeze(&self) {
        match self {
            Value::List(l) => l.borrow_mut().frozen = true,
            Value::Dict(d) => d.borrow_mut().frozen = true,
            Value::Object(o) => o.borrow_mut().frozen = true,
            _ => {}
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Value::None => "None",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Bytes(_) => "str",
            Value::Tuple(_) => "tuple",
            Value::List(_) => "list",
            Value::Dict(_) => "dict",
            Value::Global(_) => "global",
            Value::Dtype(_) => "dtype",
            Value::Array(_) => "ndarray",
            Value::Object(_) => "object",
        }
    }

    /// The integer, if this is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Bool(b) => Some(*b as i64),
            _ => None,
        }
    }
}

/// Unpickles `bytes` into a [`Value`], within the bounds described in the module docs.
pub fn unpickle(bytes: &[u8]) -> Result<Value, PickleError> {
    Machine {
        input: bytes,
        pos: 0,
        op_start: 0,
        stack: Vec::new(),
        marks: Vec::new(),
        memo: std::collections::HashMap::new(),
    }
    .run()
}

struct Machine<'a> {
    input: &'a [u8],
    pos: usize,
    op_start: usize,
    stack: Vec<Value>,
    marks: Vec<usize>,
    memo: std::collections::HashMap<u32, Value>,
}

impl<'a> Machine<'a> {
    fn err<T>(&self, reason: impl Into<String>) -> Result<T, PickleError> {
        Err(PickleError {
            offset: self.op_start,
            reason: reason.into(),
        })
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], PickleError> {
        if n > self.input.len() - self.pos {
            return self.err(format!(
                "needs {n} bytes but only {} remain (truncated file or bad length)",
                self.input.len() - self.pos
            ));
        }
        let s = &self.input[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, PickleError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, PickleError> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, PickleError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn line(&mut self) -> Result<&'a [u8], PickleError> {
        const MAX_LINE: usize = 256;
        let rest = &self.input[self.pos..];
        let Some(end) = rest.iter().take(MAX_LINE).position(|&b| b == b'\n') else {
            return self.err("GLOBAL name is not terminated by a newline within 256 bytes");
        };
        self.pos += end + 1;
        Ok(&rest[..end])
    }

    fn pop(&mut self) -> Result<Value, PickleError> {
        match self.stack.pop() {
            Some(v) => Ok(v),
            None => self.err("stack underflow"),
        }
    }

    fn pop_mark(&mut self) -> Result<Vec<Value>, PickleError> {
        let Some(mark) = self.marks.pop() else {
            return self.err("no MARK to pop to");
        };
        if mark > self.stack.len() {
            return self.err("MARK above the stack top");
        }
        Ok(self.stack.split_off(mark))
    }

    fn push(&mut self, v: Value) {
        self.stack.push(v);
    }

    /// Checks that `child` may be placed inside a container, freezes it and returns its depth.
    /// A list or dict is placed once: shared through the memo, one list could fill any number
    /// of entries (K keys × L neighbours from K + L opcodes).
    fn adopt(&self, child: &Value) -> Result<usize, PickleError> {
        let d = child.depth();
        if d + 1 > MAX_DEPTH {
            return self.err(format!("values nest deeper than {MAX_DEPTH}"));
        }
        let placed = match child {
            Value::List(l) => l.borrow().frozen,
            Value::Dict(x) => x.borrow().frozen,
            _ => false,
        };
        if placed {
            return self.err(format!(
                "a {} is placed inside two values (shared through the memo)",
                child.kind()
            ));
        }
        child.freeze();
        Ok(d)
    }

    fn tuple(&mut self, items: Vec<Value>) -> Result<(), PickleError> {
        let mut depth = 1;
        for item in &items {
            depth = depth.max(self.adopt(item)? + 1);
        }
        self.push(Value::Tuple(Rc::new((items, depth))));
        Ok(())
    }

    fn top(&self) -> Result<&Value, PickleError> {
        match self.stack.last() {
            Some(v) => Ok(v),
            None => self.err("stack underflow"),
        }
    }

    fn append(&mut self, items: Vec<Value>) -> Result<(), PickleError> {
        let list = match self.top()? {
            Value::List(l) => l.clone(),
            other => return self.err(format!("APPEND to a {}, expected a list", other.kind())),
        };
        for item in items {
            let d = self.adopt(&item)?;
            let mut l = list.borrow_mut();
            if l.frozen {
                return self.err("APPEND to a list that is already inside another value");
            }
            l.depth = l.depth.max(d + 1);
            l.items.push(item);
        }
        Ok(())
    }

    fn set_items(&mut self, items: Vec<Value>) -> Result<(), PickleError> {
        if !items.len().is_multiple_of(2) {
            return self.err("SETITEMS with an odd number of values");
        }
        let dict = match self.top()? {
            Value::Dict(d) => d.clone(),
            other => return self.err(format!("SETITEM on a {}, expected a dict", other.kind())),
        };
        let mut it = items.into_iter();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            let d = self.adopt(&k)?.max(self.adopt(&v)?);
            let mut dm = dict.borrow_mut();
            if dm.frozen {
                return self.err("SETITEM on a dict that is already inside another value");
            }
            dm.depth = dm.depth.max(d + 1);
            dm.items.push((k, v));
        }
        Ok(())
    }

    fn global(&mut self) -> Result<(), PickleError> {
        let module = self.line()?;
        let name = self.line()?;
        let g = match (module, name) {
            (b"numpy.core.multiarray", b"_reconstruct") => Global::Reconstruct,
            (b"numpy", b"ndarray") => Global::NdArray,
            (b"numpy", b"dtype") => Global::Dtype,
            (b"scipy.sparse.csr", b"csr_matrix") => Global::CsrMatrix,
            (b"collections", b"defaultdict") => Global::DefaultDict,
            (b"__builtin__", b"list") => Global::List,
            _ => {
                return self.err(format!(
                    "refusing unknown global {}.{}",
                    String::from_utf8_lossy(module),
                    String::from_utf8_lossy(name)
                ));
            }
        };
        self.push(Value::Global(g));
        Ok(())
    }

    fn reduce(&mut self) -> Result<(), PickleError> {
        let args = self.pop()?;
        let func = self.pop()?;
        let Value::Tuple(args) = args else {
            return self.err("REDUCE arguments are not a tuple");
        };
        let args = &args.0;
        let v = match (&func, args.as_slice()) {
            (Value::Global(Global::Reconstruct), [Value::Global(Global::NdArray), _, _]) => {
                Value::Array(Rc::new(RefCell::new(Array {
                    shape: vec![0],
                    dtype: None,
                    data: Rc::from(&[][..]),
                })))
            }
            (Value::Global(Global::Dtype), [Value::Bytes(descr), _, _]) => {
                Value::Dtype(Rc::new(RefCell::new(self.parse_dtype(descr)?)))
            }
            (Value::Global(Global::DefaultDict), [Value::Global(Global::List)]) => {
                Value::Dict(Rc::new(RefCell::new(Container {
                    items: Vec::new(),
                    depth: 1,
                    frozen: false,
                })))
            }
            _ => {
                return self.err(format!(
                    "refusing to call a {} with these arguments",
                    func.kind()
                ));
            }
        };
        self.push(v);
        Ok(())
    }

    fn parse_dtype(&self, descr: &[u8]) -> Result<Dtype, PickleError> {
        let (kind, size) = match descr {
            b"i1" | b"u1" | b"b1" => (descr[0], 1),
            b"i2" | b"u2" => (descr[0], 2),
            b"i4" | b"u4" | b"f4" => (descr[0], 4),
            b"i8" | b"u8" | b"f8" => (descr[0], 8),
            _ => {
                return self.err(format!(
                    "unsupported numpy dtype '{}'",
                    String::from_utf8_lossy(descr)
                ));
            }
        };
        Ok(Dtype {
            kind,
            size,
            big_endian: false,
        })
    }

    fn newobj(&mut self) -> Result<(), PickleError> {
        let args = self.pop()?;
        let cls = self.pop()?;
        match (&cls, &args) {
            (Value::Global(Global::CsrMatrix), Value::Tuple(t)) if t.0.is_empty() => {
                self.push(Value::Object(Rc::new(RefCell::new(Object {
                    class: Global::CsrMatrix,
                    state: None,
                    frozen: false,
                    depth: 1,
                }))));
                Ok(())
            }
            _ => self.err(format!("refusing to instantiate a {}", cls.kind())),
        }
    }

    fn build(&mut self) -> Result<(), PickleError> {
        let state = self.pop()?;
        let target = self.top()?.clone();
        match target {
            Value::Dtype(dt) => {
                // (version, byteorder, subdescr, names, fields, elsize, alignment, flags)
                let Value::Tuple(t) = &state else {
                    return self.err("dtype state is not a tuple");
                };
                match t.0.get(1) {
                    Some(Value::Bytes(b)) if &b[..] == b"<" || &b[..] == b"|" || &b[..] == b"=" => {
                        dt.borrow_mut().big_endian = false
                    }
                    Some(Value::Bytes(b)) if &b[..] == b">" => dt.borrow_mut().big_endian = true,
                    _ => return self.err("dtype state has no byte order"),
                }
                Ok(())
            }
            Value::Array(arr) => self.build_array(&arr, &state),
            Value::Object(obj) => {
                let d = self.adopt(&state)?;
                let mut o = obj.borrow_mut();
                if o.frozen || o.state.is_some() {
                    return self.err("BUILD on an object that is already built or placed");
                }
                o.depth = d + 1;
                o.state = Some(state);
                Ok(())
            }
            other => self.err(format!("BUILD on a {}", other.kind())),
        }
    }

    fn build_array(&self, arr: &Rc<RefCell<Array>>, state: &Value) -> Result<(), PickleError> {
        // (version, shape, dtype, is_fortran, raw bytes)
        let Value::Tuple(t) = state else {
            return self.err("ndarray state is not a tuple");
        };
        let [
            _,
            Value::Tuple(shape),
            Value::Dtype(dtype),
            fortran,
            Value::Bytes(raw),
        ] = t.0.as_slice()
        else {
            return self.err("ndarray state is not (version, shape, dtype, fortran, bytes)");
        };
        let mut dims = Vec::with_capacity(shape.0.len().min(8));
        let mut count: usize = 1;
        for d in &shape.0 {
            let Some(d) = d.as_int().and_then(|d| usize::try_from(d).ok()) else {
                return self.err("ndarray shape holds a non-integer or negative dimension");
            };
            // Each dimension, not only the product, is bounded by the file: a 0 elsewhere in
            // the shape would let one dimension claim any size for no bytes.
            if d > self.input.len() {
                return self.err(format!(
                    "ndarray dimension {d} is larger than the {}-byte pickle",
                    self.input.len()
                ));
            }
            dims.push(d);
            count = match count.checked_mul(d) {
                Some(c) => c,
                None => return self.err("ndarray shape overflows"),
            };
        }
        let dtype = *dtype.borrow();
        if dims.len() > 1 && matches!(fortran, Value::Bool(true)) {
            return self.err("Fortran-ordered arrays are not supported");
        }
        if count.checked_mul(dtype.size) != Some(raw.len()) {
            return self.err(format!(
                "ndarray shape {dims:?} of {}-byte items needs {} bytes, the pickle holds {}",
                dtype.size,
                count.saturating_mul(dtype.size),
                raw.len()
            ));
        }
        let mut a = arr.borrow_mut();
        if a.dtype.is_some() {
            return self.err("BUILD on an ndarray that is already built");
        }
        a.shape = dims;
        a.dtype = Some(dtype);
        a.data = raw.clone();
        Ok(())
    }

    fn run(mut self) -> Result<Value, PickleError> {
        loop {
            self.op_start = self.pos;
            let op = self.u8()?;
            match op {
                0x80 => {
                    let proto = self.u8()?;
                    if proto > 2 {
                        return self.err(format!("pickle protocol {proto} is not supported (≤ 2)"));
                    }
                }
                b'.' => {
                    let v = self.pop()?;
                    return Ok(v);
                }
                b'c' => self.global()?,
                b'q' => {
                    let i = self.u8()? as u32;
                    let v = self.top()?.clone();
                    self.memo.insert(i, v);
                }
                b'r' => {
                    let i = self.u32()?;
                    let v = self.top()?.clone();
                    self.memo.insert(i, v);
                }
                b'h' | b'j' => {
                    let i = if op == b'h' {
                        self.u8()? as u32
                    } else {
                        self.u32()?
                    };
                    let Some(v) = self.memo.get(&i).cloned() else {
                        return self.err(format!("memo entry {i} was never stored"));
                    };
                    self.push(v);
                }
                b'(' => self.marks.push(self.stack.len()),
                b')' => self.tuple(Vec::new())?,
                b't' => {
                    let items = self.pop_mark()?;
                    self.tuple(items)?;
                }
                0x85..=0x87 => {
                    let n = (op - 0x84) as usize;
                    if self.stack.len() < n {
                        return self.err("stack underflow");
                    }
                    let items = self.stack.split_off(self.stack.len() - n);
                    self.tuple(items)?;
                }
                b']' => self.push(Value::List(Rc::new(RefCell::new(Container {
                    items: Vec::new(),
                    depth: 1,
                    frozen: false,
                })))),
                b'}' => self.push(Value::Dict(Rc::new(RefCell::new(Container {
                    items: Vec::new(),
                    depth: 1,
                    frozen: false,
                })))),
                b'a' => {
                    let v = self.pop()?;
                    self.append(vec![v])?;
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    self.append(items)?;
                }
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    self.set_items(vec![k, v])?;
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    self.set_items(items)?;
                }
                b'N' => self.push(Value::None),
                0x88 => self.push(Value::Bool(true)),
                0x89 => self.push(Value::Bool(false)),
                b'K' => {
                    let v = self.u8()? as i64;
                    self.push(Value::Int(v));
                }
                b'M' => {
                    let v = self.u16()? as i64;
                    self.push(Value::Int(v));
                }
                b'J' => {
                    let v = self.u32()? as i32 as i64;
                    self.push(Value::Int(v));
                }
                0x8a => {
                    let n = self.u8()? as usize;
                    if n > 8 {
                        return self.err("LONG1 integer wider than 64 bits");
                    }
                    let b = self.take(n)?;
                    let mut buf = if b.last().is_some_and(|&x| x & 0x80 != 0) {
                        [0xffu8; 8]
                    } else {
                        [0u8; 8]
                    };
                    buf[..n].copy_from_slice(b);
                    self.push(Value::Int(i64::from_le_bytes(buf)));
                }
                b'U' => {
                    let n = self.u8()? as usize;
                    let b = self.take(n)?;
                    self.push(Value::Bytes(Rc::from(b)));
                }
                b'T' | b'X' => {
                    let n = self.u32()?;
                    if n > i32::MAX as u32 {
                        return self.err("negative string length");
                    }
                    let b = self.take(n as usize)?;
                    if op == b'X' && std::str::from_utf8(b).is_err() {
                        return self.err("BINUNICODE string is not UTF-8");
                    }
                    self.push(Value::Bytes(Rc::from(b)));
                }
                0x81 => self.newobj()?,
                b'R' => self.reduce()?,
                b'b' => self.build()?,
                _ => return self.err(format!("unsupported pickle opcode 0x{op:02x}")),
            }
        }
    }
}

/// A CSR sparse matrix as stored by `scipy.sparse.csr_matrix`, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Csr {
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// Row pointers, `rows + 1` of them, non-decreasing, from 0 to `nnz`.
    pub indptr: Vec<usize>,
    /// Column of each stored value, each `< cols`.
    pub indices: Vec<usize>,
    /// Stored values.
    pub data: Vec<f32>,
}

fn dict_get<'v>(items: &'v [(Value, Value)], key: &str) -> Option<&'v Value> {
    items.iter().find_map(|(k, v)| match k {
        Value::Bytes(b) if &b[..] == key.as_bytes() => Some(v),
        _ => None,
    })
}

fn fail<T>(reason: impl Into<String>) -> Result<T, PickleError> {
    Err(PickleError {
        offset: 0,
        reason: reason.into(),
    })
}

impl Array {
    /// The elements as `i64`, whatever integer dtype they are stored in.
    pub fn to_i64(&self) -> Result<Vec<i64>, PickleError> {
        let Some(dt) = self.dtype else {
            return fail("ndarray was never built");
        };
        if !matches!(dt.kind, b'i' | b'u' | b'b') {
            return fail(format!(
                "expected an integer array, found dtype kind '{}'",
                dt.kind as char
            ));
        }
        Ok(self
            .data
            .chunks_exact(dt.size)
            .map(|c| {
                let mut buf = [0u8; 8];
                if dt.big_endian {
                    for (i, &b) in c.iter().rev().enumerate() {
                        buf[i] = b;
                    }
                } else {
                    buf[..dt.size].copy_from_slice(c);
                }
                let negative = dt.kind == b'i' && buf[dt.size - 1] & 0x80 != 0;
                if negative {
                    buf[dt.size..].fill(0xff);
                }
                i64::from_le_bytes(buf)
            })
            .collect())
    }

    /// The elements as `f32` (float dtypes only; `f8` is narrowed).
    pub fn to_f32(&self) -> Result<Vec<f32>, PickleError> {
        let Some(dt) = self.dtype else {
            return fail("ndarray was never built");
        };
        let fix = |c: &[u8]| -> Vec<u8> {
            if dt.big_endian {
                c.iter().rev().copied().collect()
            } else {
                c.to_vec()
            }
        };
        match (dt.kind, dt.size) {
            (b'f', 4) => Ok(self
                .data
                .chunks_exact(4)
                .map(|c| {
                    let b = fix(c);
                    f32::from_le_bytes([b[0], b[1], b[2], b[3]])
                })
                .collect()),
            (b'f', 8) => Ok(self
                .data
                .chunks_exact(8)
                .map(|c| {
                    let b = fix(c);
                    f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32
                })
                .collect()),
            _ => fail("expected a float array"),
        }
    }
}

fn as_array(v: &Value, what: &str) -> Result<Array, PickleError> {
    match v {
        Value::Array(a) => Ok(a.borrow().clone()),
        other => fail(format!("{what} is a {}, expected an ndarray", other.kind())),
    }
}

/// Reads a pickled `scipy.sparse.csr_matrix` and validates its structure.
pub fn csr_matrix(v: &Value) -> Result<Csr, PickleError> {
    let Value::Object(obj) = v else {
        return fail(format!(
            "top-level value is a {}, expected a csr_matrix",
            v.kind()
        ));
    };
    let obj = obj.borrow();
    let Some(Value::Dict(state)) = &obj.state else {
        return fail("csr_matrix has no state dict");
    };
    let state = state.borrow();
    let items = &state.items;
    let get = |k: &str| {
        dict_get(items, k).ok_or_else(|| PickleError {
            offset: 0,
            reason: format!("csr_matrix state has no '{k}'"),
        })
    };
    let Value::Tuple(shape) = get("_shape")? else {
        return fail("csr_matrix '_shape' is not a tuple");
    };
    let dims: Vec<usize> = shape
        .0
        .iter()
        .map(|d| d.as_int().and_then(|d| usize::try_from(d).ok()))
        .collect::<Option<_>>()
        .ok_or_else(|| PickleError {
            offset: 0,
            reason: "csr_matrix '_shape' holds a non-integer".into(),
        })?;
    let [rows, cols] = dims[..] else {
        return fail("csr_matrix '_shape' is not 2-D");
    };
    let indptr = as_array(get("indptr")?, "indptr")?.to_i64()?;
    let indices = as_array(get("indices")?, "indices")?.to_i64()?;
    let data = as_array(get("data")?, "data")?.to_f32()?;
    if indptr.len() != rows.saturating_add(1) {
        return fail(format!(
            "indptr has {} entries for {rows} rows",
            indptr.len()
        ));
    }
    if indices.len() != data.len() {
        return fail(format!(
            "{} column indices for {} values",
            indices.len(),
            data.len()
        ));
    }
    if indptr[0] != 0
        || indptr[rows] != indices.len() as i64
        || indptr.windows(2).any(|w| w[0] > w[1])
    {
        return fail("indptr is not a non-decreasing run from 0 to nnz");
    }
    let indptr: Vec<usize> = indptr.into_iter().map(|p| p as usize).collect();
    let indices: Vec<usize> = indices
        .into_iter()
        .map(|c| usize::try_from(c).ok().filter(|&c| c < cols))
        .collect::<Option<_>>()
        .ok_or_else(|| PickleError {
            offset: 0,
            reason: format!("a column index is outside 0..{cols}"),
        })?;
    Ok(Csr {
        rows,
        cols,
        indptr,
        indices,
        data,
    })
}

/// Reads a pickled 2-D integer `numpy.ndarray`: `(rows, cols, row-major values)`.
pub fn int_matrix(v: &Value) -> Result<(usize, usize, Vec<i64>), PickleError> {
    let a = as_array(v, "top-level value")?;
    let [rows, cols] = a.shape[..] else {
        return fail(format!("expected a 2-D array, found shape {:?}", a.shape));
    };
    Ok((rows, cols, a.to_i64()?))
}

/// Reads a pickled `dict`/`defaultdict` of `int -> list of int` (an adjacency list).
pub fn adjacency(v: &Value) -> Result<Vec<(i64, Vec<i64>)>, PickleError> {
    let Value::Dict(d) = v else {
        return fail(format!(
            "top-level value is a {}, expected a dict",
            v.kind()
        ));
    };
    let d = d.borrow();
    let mut out = Vec::with_capacity(d.items.len());
    let mut seen = std::collections::HashSet::with_capacity(d.items.len());
    for (k, v) in &d.items {
        let Some(k) = k.as_int() else {
            return fail("adjacency key is not an int");
        };
        // Python keeps one entry per key; counting repeats would inflate the node count.
        if !seen.insert(k) {
            return fail(format!("adjacency key {k} appears twice"));
        }
        let Value::List(l) = v else {
            return fail(format!("adjacency value of node {k} is not a list"));
        };
        let l = l.borrow();
        let n: Option<Vec<i64>> = l.items.iter().map(Value::as_int).collect();
        let Some(n) = n else {
            return fail(format!("adjacency list of node {k} holds a non-int"));
        };
        out.push((k, n));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-assembled protocol-2 pickle of a 2×2 int32 array [[1, 0], [0, 1]].
    fn tiny_array(len_override: Option<u32>) -> Vec<u8> {
        let mut p = vec![0x80, 2];
        p.extend(b"cnumpy.core.multiarray\n_reconstruct\nq\x01");
        p.extend(b"cnumpy\nndarray\nq\x02K\x00\x85U\x01b\x87Rq\x03");
        p.extend(b"(K\x01K\x02K\x02\x86cnumpy\ndtype\nq\x04U\x02i4K\x00K\x01\x87Rq\x05");
        p.extend(b"(K\x03U\x01<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89");
        let data: Vec<u8> = [1i32, 0, 0, 1]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        p.push(b'T');
        p.extend(len_override.unwrap_or(data.len() as u32).to_le_bytes());
        p.extend(&data);
        p.extend(b"tb.");
        p
    }

    #[test]
    fn reads_a_small_int_matrix() {
        let v = unpickle(&tiny_array(None)).unwrap();
        assert_eq!(int_matrix(&v).unwrap(), (2, 2, vec![1, 0, 0, 1]));
    }

    #[test]
    fn a_length_beyond_the_file_is_an_error_not_an_allocation() {
        let err = unpickle(&tiny_array(Some(u32::MAX / 2))).unwrap_err();
        assert!(err.reason.contains("remain"), "{err}");
    }

    #[test]
    fn a_shape_that_disagrees_with_the_bytes_is_rejected() {
        let mut p = tiny_array(None);
        // Claim 3 rows instead of 2: the byte count no longer matches.
        let at = p.windows(5).position(|w| w == b"(K\x01K\x02").unwrap();
        p[at + 4] = 3;
        let err = unpickle(&p).unwrap_err();
        assert!(err.reason.contains("needs"), "{err}");
    }

    #[test]
    fn a_zero_dimension_does_not_free_the_other() {
        // Shape (2^40, 0) with no bytes: 2^40 · 0 items match the empty data.
        let p = tiny_array(None);
        let at = p.windows(5).position(|w| w == b"K\x02K\x02\x86").unwrap();
        let shape: &[u8] = b"\x8a\x06\x00\x00\x00\x00\x00\x01K\x00\x86";
        let mut p = [&p[..at], shape, &p[at + 5..]].concat();
        let t = p
            .windows(5)
            .position(|w| w == b"T\x10\x00\x00\x00")
            .unwrap();
        p.truncate(t);
        p.extend(b"T\x00\x00\x00\x00tb.");
        let err = unpickle(&p).unwrap_err();
        assert!(err.reason.contains("larger than"), "{err}");
    }

    #[test]
    fn a_list_cannot_be_placed_twice() {
        // {0: L, 1: L}, L = [1, 2] shared through BINGET 0.
        let p = b"\x80\x02}K\x00]q\x00(K\x01K\x02esK\x01h\x00s.".to_vec();
        let err = unpickle(&p).unwrap_err();
        assert!(err.reason.contains("two values"), "{err}");
    }

    #[test]
    fn an_adjacency_key_listed_twice_is_refused() {
        // {0: [1], 0: [2]}: Python keeps one entry; counting entries would count node 0 twice.
        let p = b"\x80\x02}(K\x00]K\x01aK\x00]K\x02au.".to_vec();
        let value = unpickle(&p).unwrap();
        let err = adjacency(&value).unwrap_err();
        assert!(err.reason.contains("twice"), "{err}");
    }

    #[test]
    fn unknown_globals_are_refused() {
        let p = b"\x80\x02cos\nsystem\nq\x01.".to_vec();
        let err = unpickle(&p).unwrap_err();
        assert!(
            err.reason.contains("refusing unknown global os.system"),
            "{err}"
        );
    }

    #[test]
    fn truncation_anywhere_is_an_error() {
        let p = tiny_array(None);
        for cut in 0..p.len() - 1 {
            assert!(
                unpickle(&p[..cut]).is_err(),
                "prefix of {cut} bytes was accepted"
            );
        }
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let mut p = vec![0x80, 2, b')'];
        p.extend(std::iter::repeat_n(0x85u8, 10_000));
        p.push(b'.');
        let err = unpickle(&p).unwrap_err();
        assert!(err.reason.contains("deeper"), "{err}");
    }

    #[test]
    fn a_list_cannot_be_appended_to_itself() {
        // EMPTY_LIST, BINPUT 0, BINGET 0, APPEND
        let p = b"\x80\x02]q\x00h\x00a.".to_vec();
        assert!(unpickle(&p).is_err());
    }
}
