// coordrl_tfgraph: a thin N-API wrapper over TensorFlow's graph C API (TF_NewOperation,
// TF_AddGradients, TF_SessionRun), so that a whole training step can be built once as a graph
// and then run as one call. All graph logic lives in TypeScript (src/compiled/); this file only
// moves operations, attributes and tensors across the boundary and turns TF_Status into errors.
//
// Objects: a Graph (TF_Graph + lazily created TF_Session) is a JS external; operations are
// referred to by their index in the graph's operation table; an output is [opIndex, outIndex].
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tensorflow/c/c_api.h>

typedef struct {
  TF_Graph* graph;
  TF_Session* session;
  TF_Status* status;
  TF_Operation** ops;
  size_t num_ops;
  size_t cap_ops;
} Graph;

#define CHECK_NAPI(call)                                    \
  do {                                                      \
    if ((call) != napi_ok) {                                \
      napi_throw_error(env, NULL, "tfgraph: N-API failure"); \
      return NULL;                                          \
    }                                                       \
  } while (0)

#define MAX_ARGS 8
#define MAX_DIMS 16
#define MAX_LIST 4096

static napi_value throw_msg(napi_env env, const char* prefix, const char* msg) {
  char buf[1024];
  snprintf(buf, sizeof buf, "tfgraph: %s: %s", prefix, msg);
  napi_throw_error(env, NULL, buf);
  return NULL;
}

static void graph_finalize(napi_env env, void* data, void* hint) {
  Graph* g = (Graph*)data;
  if (g->session) {
    TF_CloseSession(g->session, g->status);
    TF_DeleteSession(g->session, g->status);
  }
  TF_DeleteGraph(g->graph);
  TF_DeleteStatus(g->status);
  free(g->ops);
  free(g);
}

static Graph* get_graph(napi_env env, napi_value v) {
  void* data = NULL;
  if (napi_get_value_external(env, v, &data) != napi_ok || data == NULL) {
    napi_throw_type_error(env, NULL, "tfgraph: expected a graph");
    return NULL;
  }
  return (Graph*)data;
}

static int push_op(Graph* g, TF_Operation* op) {
  if (g->num_ops == g->cap_ops) {
    size_t cap = g->cap_ops ? g->cap_ops * 2 : 256;
    TF_Operation** ops = (TF_Operation**)realloc(g->ops, cap * sizeof(TF_Operation*));
    if (!ops) return -1;
    g->ops = ops;
    g->cap_ops = cap;
  }
  g->ops[g->num_ops] = op;
  return (int)g->num_ops++;
}

static napi_value make_int(napi_env env, int64_t v) {
  napi_value out;
  napi_create_int64(env, v, &out);
  return out;
}

static int get_int(napi_env env, napi_value v, int64_t* out) {
  return napi_get_value_int64(env, v, out) == napi_ok;
}

// [opIndex, outIndex] -> TF_Output
static int get_output(napi_env env, Graph* g, napi_value v, TF_Output* out) {
  napi_value a, b;
  int64_t op, idx;
  if (napi_get_element(env, v, 0, &a) != napi_ok || napi_get_element(env, v, 1, &b) != napi_ok) return 0;
  if (!get_int(env, a, &op) || !get_int(env, b, &idx)) return 0;
  if (op < 0 || (size_t)op >= g->num_ops || idx < 0) return 0;
  out->oper = g->ops[op];
  out->index = (int)idx;
  return 1;
}

static int get_dims(napi_env env, napi_value arr, int64_t* dims, int* ndims) {
  uint32_t n;
  if (napi_get_array_length(env, arr, &n) != napi_ok || n > MAX_DIMS) return 0;
  for (uint32_t i = 0; i < n; i++) {
    napi_value e;
    if (napi_get_element(env, arr, i, &e) != napi_ok || !get_int(env, e, &dims[i])) return 0;
  }
  *ndims = (int)n;
  return 1;
}

static size_t dtype_size(TF_DataType t) { return TF_DataTypeSize(t); }

// A typed array's bytes.
static int get_bytes(napi_env env, napi_value v, void** data, size_t* bytes) {
  napi_typedarray_type type;
  size_t length, offset;
  napi_value ab;
  if (napi_get_typedarray_info(env, v, &type, &length, data, &ab, &offset) != napi_ok) return 0;
  size_t el = 1;
  switch (type) {
    case napi_int8_array:
    case napi_uint8_array:
    case napi_uint8_clamped_array: el = 1; break;
    case napi_int16_array:
    case napi_uint16_array: el = 2; break;
    case napi_int32_array:
    case napi_uint32_array:
    case napi_float32_array: el = 4; break;
    case napi_float64_array:
    case napi_bigint64_array:
    case napi_biguint64_array: el = 8; break;
    default: return 0;
  }
  *bytes = length * el;
  return 1;
}

// [dtype, dims, typedArray] -> a new TF_Tensor (copied), or NULL with a message.
static TF_Tensor* make_tensor(napi_env env, napi_value spec, const char** err) {
  napi_value vt, vd, va;
  int64_t dtype, dims[MAX_DIMS];
  int ndims;
  void* data;
  size_t bytes;
  if (napi_get_element(env, spec, 0, &vt) != napi_ok || napi_get_element(env, spec, 1, &vd) != napi_ok ||
      napi_get_element(env, spec, 2, &va) != napi_ok || !get_int(env, vt, &dtype) || !get_dims(env, vd, dims, &ndims) ||
      !get_bytes(env, va, &data, &bytes)) {
    *err = "a tensor is [dtype, dims, typedArray]";
    return NULL;
  }
  size_t count = 1;
  for (int i = 0; i < ndims; i++) {
    if (dims[i] < 0) {
      *err = "negative dimension";
      return NULL;
    }
    count *= (size_t)dims[i];
  }
  size_t want = count * dtype_size((TF_DataType)dtype);
  if (want != bytes) {
    *err = "typed array size does not match dtype and shape";
    return NULL;
  }
  TF_Tensor* t = TF_AllocateTensor((TF_DataType)dtype, dims, ndims, want);
  if (!t) {
    *err = "allocation failed";
    return NULL;
  }
  if (want > 0) memcpy(TF_TensorData(t), data, want);
  return t;
}

static napi_value tensor_to_js(napi_env env, TF_Tensor* t) {
  TF_DataType dt = TF_TensorType(t);
  size_t bytes = TF_TensorByteSize(t);
  void* dst;
  napi_value ab, arr, result, shape;
  CHECK_NAPI(napi_create_arraybuffer(env, bytes, &dst, &ab));
  if (bytes > 0) memcpy(dst, TF_TensorData(t), bytes);
  napi_typedarray_type type;
  size_t el;
  switch (dt) {
    case TF_FLOAT: type = napi_float32_array; el = 4; break;
    case TF_INT32: type = napi_int32_array; el = 4; break;
    case TF_UINT8: type = napi_uint8_array; el = 1; break;
    case TF_BOOL: type = napi_uint8_array; el = 1; break;
    case TF_INT64: type = napi_bigint64_array; el = 8; break;
    case TF_DOUBLE: type = napi_float64_array; el = 8; break;
    default: return throw_msg(env, "run", "unsupported output dtype");
  }
  CHECK_NAPI(napi_create_typedarray(env, type, bytes / el, ab, 0, &arr));
  int nd = TF_NumDims(t);
  CHECK_NAPI(napi_create_array_with_length(env, nd, &shape));
  for (int i = 0; i < nd; i++) CHECK_NAPI(napi_set_element(env, shape, i, make_int(env, TF_Dim(t, i))));
  CHECK_NAPI(napi_create_array_with_length(env, 2, &result));
  CHECK_NAPI(napi_set_element(env, result, 0, arr));
  CHECK_NAPI(napi_set_element(env, result, 1, shape));
  return result;
}

// newGraph(): Graph
static napi_value new_graph(napi_env env, napi_callback_info info) {
  Graph* g = (Graph*)calloc(1, sizeof(Graph));
  if (!g) return throw_msg(env, "newGraph", "out of memory");
  g->graph = TF_NewGraph();
  g->status = TF_NewStatus();
  napi_value out;
  CHECK_NAPI(napi_create_external(env, g, graph_finalize, NULL, &out));
  return out;
}

// setAttr helper: attr = [name, kind, value]
static const char* set_attr(napi_env env, TF_OperationDescription* d, napi_value attr, TF_Status* st) {
  napi_value vn, vk, vv;
  char name[128], kind[16];
  size_t len;
  if (napi_get_element(env, attr, 0, &vn) != napi_ok || napi_get_element(env, attr, 1, &vk) != napi_ok ||
      napi_get_element(env, attr, 2, &vv) != napi_ok ||
      napi_get_value_string_utf8(env, vn, name, sizeof name, &len) != napi_ok ||
      napi_get_value_string_utf8(env, vk, kind, sizeof kind, &len) != napi_ok)
    return "an attribute is [name, kind, value]";
  if (strcmp(kind, "type") == 0) {
    int64_t v;
    if (!get_int(env, vv, &v)) return "type attribute needs a number";
    TF_SetAttrType(d, name, (TF_DataType)v);
  } else if (strcmp(kind, "int") == 0) {
    int64_t v;
    if (!get_int(env, vv, &v)) return "int attribute needs a number";
    TF_SetAttrInt(d, name, v);
  } else if (strcmp(kind, "float") == 0) {
    double v;
    if (napi_get_value_double(env, vv, &v) != napi_ok) return "float attribute needs a number";
    TF_SetAttrFloat(d, name, (float)v);
  } else if (strcmp(kind, "bool") == 0) {
    bool v;
    if (napi_get_value_bool(env, vv, &v) != napi_ok) return "bool attribute needs a boolean";
    TF_SetAttrBool(d, name, v ? 1 : 0);
  } else if (strcmp(kind, "string") == 0) {
    char s[1024];
    if (napi_get_value_string_utf8(env, vv, s, sizeof s, &len) != napi_ok) return "string attribute needs a string";
    TF_SetAttrString(d, name, s, len);
  } else if (strcmp(kind, "shape") == 0) {
    int64_t dims[MAX_DIMS];
    int nd;
    if (!get_dims(env, vv, dims, &nd)) return "shape attribute needs an array of at most 16 numbers";
    TF_SetAttrShape(d, name, dims, nd);
  } else if (strcmp(kind, "ints") == 0) {
    uint32_t n;
    if (napi_get_array_length(env, vv, &n) != napi_ok || n > MAX_LIST) return "ints attribute needs an array";
    int64_t* vals = (int64_t*)malloc((n ? n : 1) * sizeof(int64_t));
    for (uint32_t i = 0; i < n; i++) {
      napi_value e;
      if (napi_get_element(env, vv, i, &e) != napi_ok || !get_int(env, e, &vals[i])) {
        free(vals);
        return "ints attribute needs numbers";
      }
    }
    TF_SetAttrIntList(d, name, vals, (int)n);
    free(vals);
  } else if (strcmp(kind, "tensor") == 0) {
    const char* err = NULL;
    TF_Tensor* t = make_tensor(env, vv, &err);
    if (!t) return err;
    TF_SetAttrTensor(d, name, t, st);
    TF_DeleteTensor(t);
    if (TF_GetCode(st) != TF_OK) return TF_Message(st);
  } else {
    return "unknown attribute kind";
  }
  return NULL;
}

// addOp(graph, type, name, inputs, attrs, controlInputs): opIndex
// inputs: each [op, idx] or a list of them (list input); attrs: [name, kind, value][]
static napi_value add_op(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK_NAPI(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 6) return throw_msg(env, "addOp", "expected 6 arguments");
  Graph* g = get_graph(env, argv[0]);
  if (!g) return NULL;
  char type[128], name[512];
  size_t len;
  if (napi_get_value_string_utf8(env, argv[1], type, sizeof type, &len) != napi_ok ||
      napi_get_value_string_utf8(env, argv[2], name, sizeof name, &len) != napi_ok)
    return throw_msg(env, "addOp", "type and name must be strings");
  TF_OperationDescription* d = TF_NewOperation(g->graph, type, name);
  uint32_t n;
  CHECK_NAPI(napi_get_array_length(env, argv[3], &n));
  for (uint32_t i = 0; i < n; i++) {
    napi_value in, first;
    CHECK_NAPI(napi_get_element(env, argv[3], i, &in));
    CHECK_NAPI(napi_get_element(env, in, 0, &first));
    bool is_list;
    CHECK_NAPI(napi_is_array(env, first, &is_list));
    if (is_list) {
      uint32_t m;
      CHECK_NAPI(napi_get_array_length(env, in, &m));
      if (m > MAX_LIST) return throw_msg(env, name, "input list too long");
      TF_Output* outs = (TF_Output*)malloc((m ? m : 1) * sizeof(TF_Output));
      for (uint32_t j = 0; j < m; j++) {
        napi_value e;
        CHECK_NAPI(napi_get_element(env, in, j, &e));
        if (!get_output(env, g, e, &outs[j])) {
          free(outs);
          return throw_msg(env, name, "bad input in list");
        }
      }
      TF_AddInputList(d, outs, (int)m);
      free(outs);
    } else {
      TF_Output o;
      if (!get_output(env, g, in, &o)) return throw_msg(env, name, "bad input");
      TF_AddInput(d, o);
    }
  }
  CHECK_NAPI(napi_get_array_length(env, argv[4], &n));
  for (uint32_t i = 0; i < n; i++) {
    napi_value a;
    CHECK_NAPI(napi_get_element(env, argv[4], i, &a));
    const char* err = set_attr(env, d, a, g->status);
    if (err) return throw_msg(env, name, err);
  }
  CHECK_NAPI(napi_get_array_length(env, argv[5], &n));
  for (uint32_t i = 0; i < n; i++) {
    napi_value e;
    int64_t op;
    CHECK_NAPI(napi_get_element(env, argv[5], i, &e));
    if (!get_int(env, e, &op) || op < 0 || (size_t)op >= g->num_ops) return throw_msg(env, name, "bad control input");
    TF_AddControlInput(d, g->ops[op]);
  }
  TF_Operation* op = TF_FinishOperation(d, g->status);
  if (TF_GetCode(g->status) != TF_OK) return throw_msg(env, name, TF_Message(g->status));
  int idx = push_op(g, op);
  if (idx < 0) return throw_msg(env, name, "out of memory");
  return make_int(env, idx);
}

// numOutputs(graph, op): number
static napi_value num_outputs(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int64_t op;
  CHECK_NAPI(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  Graph* g = get_graph(env, argv[0]);
  if (!g) return NULL;
  if (!get_int(env, argv[1], &op) || op < 0 || (size_t)op >= g->num_ops) return throw_msg(env, "numOutputs", "bad op");
  return make_int(env, TF_OperationNumOutputs(g->ops[op]));
}

// outputShape(graph, [op, idx]): number[] (-1 for unknown dims), or null for unknown rank
static napi_value output_shape(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK_NAPI(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  Graph* g = get_graph(env, argv[0]);
  if (!g) return NULL;
  TF_Output o;
  if (!get_output(env, g, argv[1], &o)) return throw_msg(env, "outputShape", "bad output");
  int nd = TF_GraphGetTensorNumDims(g->graph, o, g->status);
  if (TF_GetCode(g->status) != TF_OK) return throw_msg(env, "outputShape", TF_Message(g->status));
  napi_value out;
  if (nd < 0) {
    CHECK_NAPI(napi_get_null(env, &out));
    return out;
  }
  int64_t dims[MAX_DIMS];
  if (nd > MAX_DIMS) return throw_msg(env, "outputShape", "rank too large");
  TF_GraphGetTensorShape(g->graph, o, dims, nd, g->status);
  if (TF_GetCode(g->status) != TF_OK) return throw_msg(env, "outputShape", TF_Message(g->status));
  CHECK_NAPI(napi_create_array_with_length(env, nd, &out));
  for (int i = 0; i < nd; i++) CHECK_NAPI(napi_set_element(env, out, i, make_int(env, dims[i])));
  return out;
}

// addGradients(graph, ys: Output[], xs: Output[]): Output[] (d(sum ys)/d xs)
static napi_value add_gradients(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK_NAPI(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  Graph* g = get_graph(env, argv[0]);
  if (!g) return NULL;
  uint32_t ny, nx;
  CHECK_NAPI(napi_get_array_length(env, argv[1], &ny));
  CHECK_NAPI(napi_get_array_length(env, argv[2], &nx));
  if (ny == 0 || nx == 0 || ny > MAX_LIST || nx > MAX_LIST) return throw_msg(env, "addGradients", "bad ys or xs");
  TF_Output* ys = (TF_Output*)malloc(ny * sizeof(TF_Output));
  TF_Output* xs = (TF_Output*)malloc(nx * sizeof(TF_Output));
  TF_Output* dx = (TF_Output*)malloc(nx * sizeof(TF_Output));
  int ok = 1;
  for (uint32_t i = 0; i < ny && ok; i++) {
    napi_value e;
    ok = napi_get_element(env, argv[1], i, &e) == napi_ok && get_output(env, g, e, &ys[i]);
  }
  for (uint32_t i = 0; i < nx && ok; i++) {
    napi_value e;
    ok = napi_get_element(env, argv[2], i, &e) == napi_ok && get_output(env, g, e, &xs[i]);
  }
  napi_value out = NULL;
  if (!ok) {
    throw_msg(env, "addGradients", "bad output reference");
  } else {
    TF_AddGradients(g->graph, ys, (int)ny, xs, (int)nx, NULL, g->status, dx);
    if (TF_GetCode(g->status) != TF_OK) {
      throw_msg(env, "addGradients", TF_Message(g->status));
    } else if (napi_create_array_with_length(env, nx, &out) == napi_ok) {
      for (uint32_t i = 0; i < nx; i++) {
        int idx = dx[i].oper ? push_op(g, dx[i].oper) : -1;
        napi_value pair;
        napi_create_array_with_length(env, 2, &pair);
        napi_set_element(env, pair, 0, make_int(env, idx));
        napi_set_element(env, pair, 1, make_int(env, dx[i].index));
        napi_set_element(env, out, i, pair);
      }
    }
  }
  free(ys);
  free(xs);
  free(dx);
  return out;
}

// run(graph, feeds: [Output, [dtype, dims, typedArray]][], fetches: Output[], targets: op[]):
//   [typedArray, dims][] (one per fetch). The session is created on the first call and extended
//   with whatever was added to the graph since.
static napi_value run(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK_NAPI(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  Graph* g = get_graph(env, argv[0]);
  if (!g) return NULL;
  if (!g->session) {
    TF_SessionOptions* so = TF_NewSessionOptions();
    g->session = TF_NewSession(g->graph, so, g->status);
    TF_DeleteSessionOptions(so);
    if (TF_GetCode(g->status) != TF_OK) {
      g->session = NULL;
      return throw_msg(env, "newSession", TF_Message(g->status));
    }
  }
  uint32_t nf, no, nt;
  CHECK_NAPI(napi_get_array_length(env, argv[1], &nf));
  CHECK_NAPI(napi_get_array_length(env, argv[2], &no));
  CHECK_NAPI(napi_get_array_length(env, argv[3], &nt));
  if (nf > MAX_LIST || no > MAX_LIST || nt > MAX_LIST) return throw_msg(env, "run", "too many feeds or fetches");
  TF_Output* fin = (TF_Output*)calloc(nf + 1, sizeof(TF_Output));
  TF_Tensor** fval = (TF_Tensor**)calloc(nf + 1, sizeof(TF_Tensor*));
  TF_Output* fout = (TF_Output*)calloc(no + 1, sizeof(TF_Output));
  TF_Tensor** oval = (TF_Tensor**)calloc(no + 1, sizeof(TF_Tensor*));
  TF_Operation** tops = (TF_Operation**)calloc(nt + 1, sizeof(TF_Operation*));
  const char* err = NULL;
  for (uint32_t i = 0; i < nf && !err; i++) {
    napi_value f, o, spec;
    if (napi_get_element(env, argv[1], i, &f) != napi_ok || napi_get_element(env, f, 0, &o) != napi_ok ||
        napi_get_element(env, f, 1, &spec) != napi_ok || !get_output(env, g, o, &fin[i])) {
      err = "a feed is [output, tensor]";
      break;
    }
    fval[i] = make_tensor(env, spec, &err);
  }
  for (uint32_t i = 0; i < no && !err; i++) {
    napi_value o;
    if (napi_get_element(env, argv[2], i, &o) != napi_ok || !get_output(env, g, o, &fout[i])) err = "bad fetch";
  }
  for (uint32_t i = 0; i < nt && !err; i++) {
    napi_value o;
    int64_t op;
    if (napi_get_element(env, argv[3], i, &o) != napi_ok || !get_int(env, o, &op) || op < 0 ||
        (size_t)op >= g->num_ops)
      err = "bad target";
    else
      tops[i] = g->ops[op];
  }
  napi_value result = NULL;
  if (!err) {
    TF_SessionRun(g->session, NULL, fin, fval, (int)nf, fout, oval, (int)no, (const TF_Operation* const*)tops, (int)nt, NULL, g->status);
    if (TF_GetCode(g->status) != TF_OK) err = TF_Message(g->status);
  }
  if (err) {
    throw_msg(env, "run", err);
  } else if (napi_create_array_with_length(env, no, &result) == napi_ok) {
    for (uint32_t i = 0; i < no; i++) {
      napi_value v = tensor_to_js(env, oval[i]);
      if (!v) break;
      napi_set_element(env, result, i, v);
    }
  }
  for (uint32_t i = 0; i < nf; i++)
    if (fval[i]) TF_DeleteTensor(fval[i]);
  for (uint32_t i = 0; i < no; i++)
    if (oval[i]) TF_DeleteTensor(oval[i]);
  free(fin);
  free(fval);
  free(fout);
  free(oval);
  free(tops);
  return result;
}

static napi_value version(napi_env env, napi_callback_info info) {
  napi_value out;
  napi_create_string_utf8(env, TF_Version(), NAPI_AUTO_LENGTH, &out);
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"newGraph", NULL, new_graph, NULL, NULL, NULL, napi_default, NULL},
      {"addOp", NULL, add_op, NULL, NULL, NULL, napi_default, NULL},
      {"numOutputs", NULL, num_outputs, NULL, NULL, NULL, napi_default, NULL},
      {"outputShape", NULL, output_shape, NULL, NULL, NULL, napi_default, NULL},
      {"addGradients", NULL, add_gradients, NULL, NULL, NULL, napi_default, NULL},
      {"run", NULL, run, NULL, NULL, NULL, napi_default, NULL},
      {"version", NULL, version, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
