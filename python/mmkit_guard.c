/*
 * mmkit_guard.c — the fault guard in a Python process, at no cost per call.
 *
 * The library keeps its SIGBUS handler on top of any installed later by
 * re-arming it (one sigaction() call) at the start of every guarded
 * operation. A system call per m[i] or short find() would cost more than the
 * operation itself (about 1.5 µs on a virtualised machine against 0.1 µs),
 * so the module turns that off and re-arms instead exactly when Python code
 * changes the SIGBUS disposition: after signal.signal() and after
 * faulthandler's enable/disable/register/unregister, which it wraps. Handlers
 * installed by other C extensions are covered by mmkit.guard_install() (or
 * mmkit.guard_rearm(True), which brings back the per-call re-arm).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "mmkit.h"
#include "mmkit_module.h"

/* Call the wrapped function (`self`), then put the guard's handler back on
   top; the handler it displaced stays chained behind it (see mmkit.h). */
static PyObject *call_then_rearm(PyObject *self, PyObject *args, PyObject *kwargs) {
    PyObject *r = PyObject_Call(self, args, kwargs);
    if (r != NULL)
        (void)mmk_guard_install();
    return r;
}

/* One method definition per wrapped function: the wrapper keeps the
   original's name; its doc says what it adds. Static storage: the
   definitions must outlive every wrapper object. */
#define WRAP_DOC                                                                                   \
    "As the function of the same name in its module; then mmkit re-arms its fault guard."
static PyMethodDef wrap_defs[] = {
    {"signal", (PyCFunction)(void (*)(void))call_then_rearm, METH_VARARGS | METH_KEYWORDS,
     WRAP_DOC},
    {"enable", (PyCFunction)(void (*)(void))call_then_rearm, METH_VARARGS | METH_KEYWORDS,
     WRAP_DOC},
    {"disable", (PyCFunction)(void (*)(void))call_then_rearm, METH_VARARGS | METH_KEYWORDS,
     WRAP_DOC},
    {"register", (PyCFunction)(void (*)(void))call_then_rearm, METH_VARARGS | METH_KEYWORDS,
     WRAP_DOC},
    {"unregister", (PyCFunction)(void (*)(void))call_then_rearm, METH_VARARGS | METH_KEYWORDS,
     WRAP_DOC},
};

/* Replace module.<name> by a wrapper around it, once per process (a second
   import, or a subinterpreter, finds the wrapper already there). */
static int wrap_function(const char *module_name, const char *name) {
    PyMethodDef *def = NULL;
    for (size_t i = 0; i < sizeof wrap_defs / sizeof wrap_defs[0]; i++)
        if (strcmp(wrap_defs[i].ml_name, name) == 0)
            def = &wrap_defs[i];
    if (def == NULL)
        return 0;
    PyObject *mod = PyImport_ImportModule(module_name);
    if (mod == NULL) {
        /* A Python built without the module: nothing to wrap. */
        PyErr_Clear();
        return 0;
    }
    int rc = 0;
    PyObject *orig = PyObject_GetAttrString(mod, name);
    if (orig == NULL) {
        PyErr_Clear();
    } else if (PyCFunction_Check(orig) &&
               PyCFunction_GET_FUNCTION(orig) == (PyCFunction)(void (*)(void))call_then_rearm) {
        /* already wrapped */
    } else {
        PyObject *w = PyCFunction_NewEx(def, orig, mod);
        rc = w == NULL ? -1 : PyObject_SetAttrString(mod, name, w);
        Py_XDECREF(w);
    }
    Py_XDECREF(orig);
    Py_DECREF(mod);
    return rc;
}

PyDoc_STRVAR(guard_install_doc,
             "guard_install()\n--\n\n"
             "Put mmkit's SIGBUS handler back on top now. Call it after a C extension\n"
             "(or ctypes) installs its own SIGBUS handler; signal.signal() and\n"
             "faulthandler need nothing: mmkit re-arms after them by itself.");

static PyObject *guard_install(PyObject *module, PyObject *unused) {
    int rc = mmk_guard_install();
    if (rc < 0) {
        errno = -rc;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    Py_RETURN_NONE;
}

PyDoc_STRVAR(guard_rearm_doc,
             "guard_rearm(automatic)\n--\n\n"
             "With True, re-arm the fault guard at the start of every guarded\n"
             "operation (one system call each: correct whoever installs SIGBUS handlers\n"
             "and when, slower for small operations); with False (the module's default),\n"
             "only at import and after signal.signal() and faulthandler calls. Returns the\n"
             "previous setting.");

static PyObject *guard_rearm(PyObject *module, PyObject *arg) {
    int on = PyObject_IsTrue(arg);
    if (on < 0)
        return NULL;
    int rc = mmk_guard_rearm(on);
    if (rc < 0) {
        errno = -rc;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    return PyBool_FromLong(rc);
}

static PyMethodDef guard_functions[] = {
    {"guard_install", guard_install, METH_NOARGS, guard_install_doc},
    {"guard_rearm", guard_rearm, METH_O, guard_rearm_doc},
    {NULL, NULL, 0, NULL},
};

int mmkit_guard_init(PyObject *m) {
    if (PyModule_AddFunctions(m, guard_functions) < 0)
        return -1;
    /* Install the handler now, at import, and re-arm only when Python code
       changes SIGBUS handling (above) instead of at every operation. */
    static int done;
    if (done)
        return 0;
    int rc = mmk_guard_rearm(0);
    if (rc < 0) {
        errno = -rc;
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    static const char *const wrapped[][2] = {
        {"signal", "signal"},         {"faulthandler", "enable"},     {"faulthandler", "disable"},
        {"faulthandler", "register"}, {"faulthandler", "unregister"},
    };
    for (size_t i = 0; i < sizeof wrapped / sizeof wrapped[0]; i++)
        if (wrap_function(wrapped[i][0], wrapped[i][1]) < 0)
            return -1;
    done = 1;
    return 0;
}
