/*
 * mmkit_shm.c — shared memory between processes, from Python: named shared
 * memory (mmkit.shm_open, mmkit.shm_unlink, the mmkit.SharedMemory map type)
 * and the robust process-shared lock that lives inside a map (mmkit.Lock),
 * over libmmkit's mmk_shm_* and mmk_mutex_*.
 *
 * The lock waits by polling: a non-blocking try, then sleeps that grow from
 * 50 us to 1 ms with the GIL released, checking for signals in between. The
 * C API's only blocking call, mmk_mutex_lock, waits in the kernel with no
 * timeout and cannot be interrupted, so Ctrl-C, signal handlers and
 * acquire(timeout=...) would not work on top of it. Every call that touches
 * the mutex's bytes is short and runs under the fault guard, so a shared
 * memory object truncated under the lock gives OSError(EFAULT), not SIGBUS.
 */
#include "mmkit_module.h"

#include <structmember.h>

#include <errno.h>
#include <stdint.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Named shared memory                                                       */
/* ------------------------------------------------------------------------ */

/* A map of named shared memory: an mmkit.mmap that also knows its name and
   whether shm_open created it. */
typedef struct {
    MmapObject base;
    PyObject *name; /* str: the name as the system knows it, "/..." */
    char created;   /* T_BOOL reads a char */
} ShmObject;

/* The mmkit module's attribute `attr`, as a new reference; NULL with an
   error set if it is missing. */
static PyObject *module_attr(PyObject *module, const char *attr) {
    if (module == NULL) { /* only after the garbage collector cleared the object */
        PyErr_SetString(PyExc_RuntimeError, "mmkit module gone");
        return NULL;
    }
    return PyObject_GetAttrString(module, attr);
}

static void shm_dealloc(ShmObject *self);

/*
 * Raise the exception for a failed mmk_shm_open_ex/mmk_shm_unlink of `name`
 * (a str). errno codes name the object as a filename, as os.open does.
 * Returns NULL.
 */
static PyObject *shm_error(int rc, PyObject *name, long long size) {
    switch (rc) {
    case MMK_EOWNER: {
        PyObject *exc = PyObject_CallFunction(
            PyExc_PermissionError, "isO", EPERM,
            "shared memory object is owned by another user or its mode is wider than requested "
            "(any_owner=True accepts it)",
            name);
        if (exc != NULL) {
            PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
            Py_DECREF(exc);
        }
        return NULL;
    }
    case MMK_ELENGTH:
        PyErr_Format(PyExc_ValueError,
                     "shared memory object %R is smaller than size=%lld (only a writable "
                     "create=True open grows it)",
                     name, size);
        return NULL;
    case -EINVAL:
        PyErr_Format(PyExc_ValueError,
                     "invalid shared memory name %R: one component of 1 to 255 bytes, optionally "
                     "after a leading '/', not '.' or '..'",
                     name);
        return NULL;
    default:
        break;
    }
    if (rc < 0 && rc > -4096) {
        errno = -rc;
        return PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, name);
    }
    return mmkit_error(rc);
}

/*
 * The name argument as the C library will see it: `*bytes` gets the encoded
 * name (a new reference) and `*normal` the name with its leading '/' as a
 * str (a new reference). Only str and bytes are names; returns 0 or -1 with
 * an error set.
 */
static int shm_name_arg(PyObject *obj, PyObject **bytes, PyObject **normal) {
    if (!PyUnicode_Check(obj) && !PyBytes_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "shared memory name must be str or bytes, not '%.200s'",
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    if (!PyUnicode_FSConverter(obj, bytes))
        return -1;
    const char *s = PyBytes_AS_STRING(*bytes);
    Py_ssize_t n = PyBytes_GET_SIZE(*bytes);
    if (n > 0 && s[0] == '/') {
        *normal = PyUnicode_DecodeFSDefaultAndSize(s, n);
    } else {
        PyObject *slashed = PyBytes_FromFormat("/%s", s);
        *normal = slashed ? PyUnicode_DecodeFSDefaultAndSize(PyBytes_AS_STRING(slashed),
                                                             PyBytes_GET_SIZE(slashed))
                          : NULL;
        Py_XDECREF(slashed);
    }
    if (*normal == NULL) {
        Py_CLEAR(*bytes);
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(
    shm_open_doc,
    "shm_open($module, /, name, size=0, *, create=False, exclusive=False, readonly=False,\n"
    "         mode=0o600, any_owner=False)\n"
    "--\n"
    "\n"
    "Open named shared memory and map it; returns an mmkit.SharedMemory, an\n"
    "mmkit.mmap with .name, .created and .unlink().\n"
    "\n"
    "name: 'something' or '/something' (the same object). size: bytes to map;\n"
    "0 maps an existing object whole. create=True creates the object if it is\n"
    "missing (zero-filled, *size* bytes, permission bits exactly *mode*) and\n"
    "grows an existing one that is shorter than *size*; .created says whether\n"
    "this call created it: exactly one of several processes racing to create\n"
    "one name sees True, and that one initialises what lives in it (its Lock).\n"
    "exclusive=True (with create=True) fails with FileExistsError if the name\n"
    "exists. readonly=True maps it read-only.\n"
    "\n"
    "An existing object is used only if it belongs to this user and its mode\n"
    "is no wider than *mode*; otherwise PermissionError (errno EPERM), since\n"
    "another user could have planted it to read what you write into it.\n"
    "any_owner=True accepts it anyway.\n"
    "\n"
    "Raises FileNotFoundError (missing, without create), FileExistsError,\n"
    "PermissionError, ValueError (bad name, size or mode; an existing object\n"
    "smaller than size that this call may not grow). A failed call leaves no\n"
    "new object behind and the size of an existing one unchanged.");

static PyObject *mmkit_shm_open(PyObject *module, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"name",     "size", "create",    "exclusive",
                             "readonly", "mode", "any_owner", NULL};
    PyObject *name_obj = NULL;
    long long size = 0;
    int create = 0, exclusive = 0, readonly = 0, any_owner = 0, mode = 0600;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|L$pppip:shm_open", kwlist, &name_obj, &size,
                                     &create, &exclusive, &readonly, &mode, &any_owner))
        return NULL;
    if (size < 0) {
        PyErr_SetString(PyExc_ValueError, "size must not be negative");
        return NULL;
    }
    if (exclusive && !create) {
        PyErr_SetString(PyExc_ValueError, "exclusive=True needs create=True");
        return NULL;
    }
    /* The C library reads mode 0 as 0600; in Python 0 would read as "no
       access at all", so it is refused rather than silently changed. */
    if (mode < 1 || mode > 0777) {
        /* PyErr_Format has no %o before 3.12: format the octal here. */
        char msg[80];
        PyOS_snprintf(msg, sizeof msg, "mode must be between 0o1 and 0o777, not %s0o%lo",
                      mode < 0 ? "-" : "", (unsigned long)(mode < 0 ? -(long)mode : (long)mode));
        PyErr_SetString(PyExc_ValueError, msg);
        return NULL;
    }

    PyObject *shm_type = module_attr(module, "SharedMemory");
    if (shm_type == NULL)
        return NULL;
    if (!PyType_Check(shm_type) ||
        ((PyTypeObject *)shm_type)->tp_dealloc != (destructor)shm_dealloc) {
        Py_DECREF(shm_type);
        PyErr_SetString(PyExc_TypeError, "mmkit.SharedMemory has been replaced");
        return NULL;
    }

    PyObject *name_bytes = NULL, *name = NULL;
    if (shm_name_arg(name_obj, &name_bytes, &name) < 0) {
        Py_DECREF(shm_type);
        return NULL;
    }
    mmk_shm_options opt = MMK_SHM_OPTIONS_INIT;
    opt.length = (uint64_t)size;
    opt.mode = (unsigned)mode;
    opt.flags = (create ? MMK_SHM_CREATE : 0u) | (exclusive ? MMK_SHM_EXCL : 0u) |
                (readonly ? MMK_SHM_READONLY : 0u) | (any_owner ? MMK_SHM_ANY_OWNER : 0u);
    mmk_map *map = NULL;
    int created = 0, rc;
    const char *cname = PyBytes_AS_STRING(name_bytes);
    Py_BEGIN_ALLOW_THREADS
    rc = mmk_shm_open_ex(&map, cname, &opt, &created);
    Py_END_ALLOW_THREADS
    Py_DECREF(name_bytes);
    if (rc < 0) {
        shm_error(rc, name, size);
        Py_DECREF(name);
        Py_DECREF(shm_type);
        return NULL;
    }
    ShmObject *self = (ShmObject *)mmkit_mmap_from_map_type(
        module, (PyTypeObject *)shm_type, map, readonly ? PYMM_ACCESS_READ : PYMM_ACCESS_WRITE, 0);
    Py_DECREF(shm_type);
    if (self == NULL) {
        Py_DECREF(name);
        return NULL;
    }
    self->name = name;
    self->created = created;
    return (PyObject *)self;
}

PyDoc_STRVAR(shm_unlink_doc, "shm_unlink($module, /, name)\n"
                             "--\n"
                             "\n"
                             "Remove the name of shared memory *name*. Maps already open stay\n"
                             "valid; the memory goes away with the last of them.\n"
                             "FileNotFoundError if there is no such name.");

static PyObject *unlink_name(PyObject *name_obj) {
    PyObject *name_bytes = NULL, *name = NULL;
    if (shm_name_arg(name_obj, &name_bytes, &name) < 0)
        return NULL;
    int rc;
    const char *cname = PyBytes_AS_STRING(name_bytes);
    Py_BEGIN_ALLOW_THREADS
    rc = mmk_shm_unlink(cname);
    Py_END_ALLOW_THREADS
    Py_DECREF(name_bytes);
    if (rc < 0) {
        shm_error(rc, name, 0);
        Py_DECREF(name);
        return NULL;
    }
    Py_DECREF(name);
    Py_RETURN_NONE;
}

static PyObject *mmkit_shm_unlink(PyObject *module, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"name", NULL};
    PyObject *name_obj = NULL;
    (void)module;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:shm_unlink", kwlist, &name_obj))
        return NULL;
    return unlink_name(name_obj);
}

PyDoc_STRVAR(shm_unlink_method_doc,
             "unlink()\n\n"
             "Remove this object's name (mmkit.shm_unlink(self.name)). The map\n"
             "stays usable; FileNotFoundError if the name is already gone.");

static PyObject *shm_unlink_method(ShmObject *self, PyObject *unused) {
    (void)unused;
    return unlink_name(self->name);
}

static PyObject *shm_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    (void)type, (void)args, (void)kwds;
    PyErr_SetString(PyExc_TypeError,
                    "cannot create 'mmkit.SharedMemory' instances: use mmkit.shm_open()");
    return NULL;
}

/* The base type (mmkit.mmap) frees the map, the object and the type
   reference; this type adds only its name. */
static void shm_dealloc(ShmObject *self) {
    PyObject_GC_UnTrack(self);
    Py_CLEAR(self->name);
    Py_TYPE(self)->tp_base->tp_dealloc((PyObject *)self);
}

/* The name is a str, which cannot take part in a cycle; the rest is the
   base type's. */
static int shm_traverse(ShmObject *self, visitproc visit, void *arg) {
    return Py_TYPE(self)->tp_base->tp_traverse((PyObject *)self, visit, arg);
}

static int shm_clear(ShmObject *self) {
    return Py_TYPE(self)->tp_base->tp_clear((PyObject *)self);
}

static PyObject *shm_repr(ShmObject *self) {
    mmk_map *map = self->base.map;
    int closed = map == NULL || mmk_is_closed(map);
    if (closed)
        return PyUnicode_FromFormat("<mmkit.SharedMemory name=%R, created=%s, closed=True>",
                                    self->name, self->created ? "True" : "False");
    return PyUnicode_FromFormat(
        "<mmkit.SharedMemory name=%R, created=%s, closed=False, access=%s, length=%llu>",
        self->name, self->created ? "True" : "False",
        self->base.access == PYMM_ACCESS_READ ? "ACCESS_READ" : "ACCESS_WRITE",
        (unsigned long long)mmk_length(map));
}

static PyMemberDef shm_members[] = {
    {"name", T_OBJECT_EX, offsetof(ShmObject, name), READONLY,
     "The object's name with its leading '/': pass it to shm_open() in another process."},
    {"created", T_BOOL, offsetof(ShmObject, created), READONLY,
     "True if the shm_open() call that returned this map created the object."},
    {NULL, 0, 0, 0, NULL},
};

static PyMethodDef shm_methods[] = {
    {"unlink", METH(shm_unlink_method), METH_NOARGS, shm_unlink_method_doc},
    {NULL, NULL, 0, NULL},
};

PyDoc_STRVAR(shm_type_doc,
             "A map of named shared memory, returned by mmkit.shm_open(): an mmkit.mmap\n"
             "(every map method, the buffer protocol, with-statement) plus .name,\n"
             ".created and .unlink().");

static PyType_Slot shm_slots[] = {
    {Py_tp_new, shm_new},
    {Py_tp_dealloc, shm_dealloc},
    {Py_tp_traverse, shm_traverse},
    {Py_tp_clear, shm_clear},
    {Py_tp_repr, shm_repr},
    {Py_tp_members, shm_members},
    {Py_tp_methods, shm_methods},
    {Py_tp_doc, (void *)shm_type_doc},
    {0, NULL},
};

static PyType_Spec shm_spec = {
    .name = "mmkit.SharedMemory",
    .basicsize = sizeof(ShmObject),
    .itemsize = 0,
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .slots = shm_slots,
};

/* ------------------------------------------------------------------------ */
/* The lock                                                                  */
/* ------------------------------------------------------------------------ */

/* Waiting: first sleep, and the longest, between two tries. */
#define LOCK_POLL_FIRST_NS 50000L
#define LOCK_POLL_MAX_NS 1000000L

typedef struct {
    PyObject_HEAD Py_buffer view; /* the export that pins the memory; view.obj NULL once closed */
    mmk_mutex *mutex;             /* inside view.buf */
    Py_ssize_t offset;
    PyObject *repair; /* callable or NULL */
    PyObject *module; /* strong reference: the exception classes live there */
    int owner_died;   /* taken with MMK_LOCK_OWNERDEAD, not yet consistent() or released */
    int held;         /* held through this object by thread `owner` of process `owner_pid` */
    unsigned long owner;
    long owner_pid;
    int waiting;      /* threads polling with the GIL released: close() must wait for them */
    long waiting_pid; /* the process they are in (a forked child inherits the count) */
    PyObject *weakreflist;
} LockObject;

enum { MUTEX_INIT, MUTEX_TRYLOCK, MUTEX_UNLOCK, MUTEX_CONSISTENT };

typedef struct {
    mmk_mutex *mutex;
    int op;
} mutex_call;

static int mutex_call_run(void *arg) {
    mutex_call *c = arg;
    switch (c->op) {
    case MUTEX_INIT:
        return mmk_mutex_init(c->mutex);
    case MUTEX_TRYLOCK:
        return mmk_mutex_trylock(c->mutex);
    case MUTEX_UNLOCK:
        return mmk_mutex_unlock(c->mutex);
    default:
        return mmk_mutex_consistent(c->mutex);
    }
}

/*
 * One short mutex call under the fault guard: the lock's bytes are shared
 * memory that another process may truncate, which must be MMK_EFAULT rather
 * than SIGBUS. None of these calls waits, so the guard never spans a sleep.
 */
static int mutex_guarded(mmk_mutex *mu, int op) {
    mutex_call c = {mu, op};
    return mmk_guard_run(mutex_call_run, &c);
}

typedef struct {
    const void *src;
    void *dst;
} copy_call;

static int copy_lock_bytes(void *arg) {
    copy_call *c = arg;
    memcpy(c->dst, c->src, sizeof(mmk_mutex));
    return 0;
}

/* Raise mmkit.<cls_name>(message) (RuntimeError if the module no longer has
   that class); with `lock` set as its .lock attribute when given. */
static PyObject *lock_raise(LockObject *self, const char *cls_name, const char *message,
                            int with_lock) {
    PyObject *cls = module_attr(self->module, cls_name);
    if (cls == NULL || !PyExceptionClass_Check(cls)) {
        PyErr_Clear();
        Py_XDECREF(cls);
        cls = PyExc_RuntimeError;
        Py_INCREF(cls);
    }
    PyObject *exc = PyObject_CallFunction(cls, "s", message);
    Py_DECREF(cls);
    if (exc == NULL)
        return NULL;
    if (with_lock && PyObject_SetAttrString(exc, "lock", (PyObject *)self) < 0) {
        Py_DECREF(exc);
        return NULL;
    }
    PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
    Py_DECREF(exc);
    return NULL;
}

static int lock_check_open(LockObject *self) {
    if (self->view.obj == NULL) {
        PyErr_SetString(PyExc_ValueError, "Lock is closed");
        return -1;
    }
    return 0;
}

static int held_here(LockObject *self) {
    return self->held && self->owner_pid == mmkit_os_pid();
}

static void lock_mark_held(LockObject *self) {
    self->held = 1;
    self->owner = PyThread_get_thread_ident();
    self->owner_pid = mmkit_os_pid();
}

/* Turn a failed mutex call into an exception. Returns NULL. */
static PyObject *lock_error(LockObject *self, int rc) {
    switch (rc) {
    case MMK_ENOTRECOVERABLE:
        return lock_raise(self, "LockNotRecoverableError",
                          "the lock is not recoverable: a previous owner died holding it and the "
                          "lock was released without consistent(); re-create the shared state "
                          "(or re-initialise the lock with init=True while no process uses it)",
                          0);
    case -EDEADLK:
        PyErr_SetString(PyExc_RuntimeError,
                        "cannot acquire: this thread already holds the lock (mmkit.Lock is not "
                        "re-entrant)");
        return NULL;
    case -EPERM:
        PyErr_SetString(PyExc_RuntimeError,
                        "this thread does not hold the lock (a Lock belongs to the thread that "
                        "acquired it)");
        return NULL;
    default:
        return mmkit_error(rc);
    }
}

static double monotonic_seconds(void) {
    return mmkit_os_monotonic();
}

/*
 * Mark the state consistent after an owner-died acquisition. Returns 0, or
 * -1 with an exception set.
 */
static int lock_make_consistent(LockObject *self) {
    int rc = mutex_guarded(self->mutex, MUTEX_CONSISTENT);
    if (rc == -EINVAL) {
        PyErr_SetString(PyExc_RuntimeError,
                        "consistent() is only for a lock acquired after its previous owner died "
                        "(OwnerDiedError), before it is released");
        return -1;
    }
    if (rc < 0) {
        lock_error(self, rc);
        return -1;
    }
    self->owner_died = 0;
    return 0;
}

/*
 * Acquired with MMK_LOCK_OWNERDEAD. With a repair function: call it (the
 * lock held), then mark the state consistent unless it already did.
 * Without one: raise OwnerDiedError, the lock still held, so that no caller
 * goes on with half-updated state by mistake.
 */
static PyObject *lock_owner_died(LockObject *self) {
    self->owner_died = 1;
    if (self->repair == NULL)
        return lock_raise(self, "OwnerDiedError",
                          "the previous owner of the lock died holding it: this thread now holds "
                          "the lock; repair the shared state, then call lock.consistent() (or "
                          "release() without it to make the lock unrecoverable)",
                          1);
    PyObject *r = PyObject_CallFunctionObjArgs(self->repair, (PyObject *)self, NULL);
    if (r == NULL)
        return NULL; /* still held and still owner-died: see the docs */
    Py_DECREF(r);
    if (self->owner_died && lock_make_consistent(self) < 0)
        return NULL;
    Py_RETURN_TRUE;
}

/* acquire() with its arguments converted; timeout < 0 means forever. */
static PyObject *lock_acquire_impl(LockObject *self, int blocking, double timeout) {
    if (lock_check_open(self) < 0)
        return NULL;
    int rc = mutex_guarded(self->mutex, MUTEX_TRYLOCK);
    if (rc == -EBUSY && blocking && timeout != 0) {
        double deadline = timeout > 0 ? monotonic_seconds() + timeout : 0;
        long delay = LOCK_POLL_FIRST_NS;
        if (self->waiting_pid != mmkit_os_pid()) {
            self->waiting_pid = mmkit_os_pid();
            self->waiting = 0;
        }
        self->waiting++;
        for (;;) {
            long nap = delay;
            if (timeout > 0) {
                double left = deadline - monotonic_seconds();
                if (left <= 0)
                    break;
                if (left * 1e9 < (double)nap)
                    nap = (long)(left * 1e9) + 1;
            }
            Py_BEGIN_ALLOW_THREADS
            mmkit_os_sleep_ns(nap);
            rc = mutex_guarded(self->mutex, MUTEX_TRYLOCK);
            Py_END_ALLOW_THREADS
            if (rc != -EBUSY)
                break;
            if (PyErr_CheckSignals() < 0) {
                self->waiting--;
                return NULL;
            }
            if (delay < LOCK_POLL_MAX_NS)
                delay = delay * 2 < LOCK_POLL_MAX_NS ? delay * 2 : LOCK_POLL_MAX_NS;
        }
        self->waiting--;
    }
    if (rc == -EBUSY)
        Py_RETURN_FALSE;
    if (rc < 0)
        return lock_error(self, rc);
    lock_mark_held(self);
    if (rc == MMK_LOCK_OWNERDEAD)
        return lock_owner_died(self);
    self->owner_died = 0;
    Py_RETURN_TRUE;
}

PyDoc_STRVAR(lock_acquire_doc,
             "acquire(blocking=True, timeout=None) -> bool\n\n"
             "Take the lock; True once taken, False if blocking=False or *timeout*\n"
             "(seconds; None or -1: no limit) ran out first. Waits with the GIL\n"
             "released; signal handlers (Ctrl-C) run meanwhile.\n"
             "\n"
             "If the previous owner died holding the lock, this thread gets it and\n"
             "the shared state may be half-updated: with a repair function (the\n"
             "constructor's repair=) it is called with the lock and the state is then\n"
             "marked consistent; without one OwnerDiedError is raised, and this thread\n"
             "holds the lock: repair, call consistent(), go on.\n"
             "\n"
             "RuntimeError if this thread already holds it (not re-entrant);\n"
             "LockNotRecoverableError if an owner-died lock was released unrepaired;\n"
             "OSError(EFAULT) if the memory under the lock was truncated.");

static PyObject *lock_acquire(LockObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"blocking", "timeout", NULL};
    int blocking = 1;
    PyObject *timeout_obj = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|pO:acquire", kwlist, &blocking, &timeout_obj))
        return NULL;
    double timeout = -1;
    if (timeout_obj != Py_None) {
        timeout = PyFloat_AsDouble(timeout_obj);
        if (timeout == -1 && PyErr_Occurred())
            return NULL;
        if (timeout != timeout) {
            PyErr_SetString(PyExc_ValueError, "timeout must not be NaN");
            return NULL;
        }
        if (!blocking && timeout != -1) {
            PyErr_SetString(PyExc_ValueError, "can't specify a timeout for a non-blocking call");
            return NULL;
        }
        if (timeout < 0 && timeout != -1) {
            PyErr_SetString(PyExc_ValueError, "timeout value must be a non-negative number");
            return NULL;
        }
        if (timeout > 1e15) /* beyond any process's lifetime */
            timeout = -1;
    }
    return lock_acquire_impl(self, blocking, timeout);
}

PyDoc_STRVAR(lock_release_doc,
             "release()\n\n"
             "Give the lock back. RuntimeError if this thread does not hold it.\n"
             "Releasing after OwnerDiedError without consistent() makes the lock\n"
             "permanently unusable (LockNotRecoverableError everywhere): the way to say\n"
             "that the shared state cannot be repaired.");

static PyObject *lock_release(LockObject *self, PyObject *unused) {
    (void)unused;
    if (lock_check_open(self) < 0)
        return NULL;
    int rc = mutex_guarded(self->mutex, MUTEX_UNLOCK);
    if (rc < 0) {
        if (rc == -EPERM && held_here(self) && self->owner == PyThread_get_thread_ident())
            self->held = 0; /* released meanwhile through another Lock object */
        return lock_error(self, rc);
    }
    self->held = 0;
    self->owner_died = 0;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(lock_consistent_doc,
             "consistent()\n\n"
             "Mark the shared state repaired after OwnerDiedError (while holding the\n"
             "lock); the lock then works as before. RuntimeError otherwise.");

static PyObject *lock_consistent(LockObject *self, PyObject *unused) {
    (void)unused;
    if (lock_check_open(self) < 0)
        return NULL;
    if (lock_make_consistent(self) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *lock_enter(LockObject *self, PyObject *unused) {
    (void)unused;
    PyObject *r = lock_acquire_impl(self, 1, -1);
    if (r == NULL)
        return NULL;
    Py_DECREF(r);
    Py_INCREF(self);
    return (PyObject *)self;
}

static PyObject *lock_exit(LockObject *self, PyObject *args) {
    (void)args;
    return lock_release(self, NULL);
}

PyDoc_STRVAR(lock_close_doc,
             "close()\n\n"
             "Give back the memory the lock pinned, so the map can be closed or resized\n"
             "again; later calls raise ValueError. Closing twice is allowed.\n"
             "RuntimeError while this process holds the lock or a thread waits for it.");

static PyObject *lock_close(LockObject *self, PyObject *unused) {
    (void)unused;
    if (self->view.obj == NULL)
        Py_RETURN_NONE;
    if (self->waiting > 0 && self->waiting_pid == mmkit_os_pid()) {
        PyErr_SetString(PyExc_RuntimeError, "cannot close: a thread is waiting for the lock");
        return NULL;
    }
    /* The thread's robust-lock list points into the mutex until release:
       unmapping it under the list would crash a later lock operation. */
    if (held_here(self)) {
        PyErr_SetString(PyExc_RuntimeError, "cannot close a held Lock: release() it first");
        return NULL;
    }
    self->mutex = NULL;
    PyBuffer_Release(&self->view);
    self->view.obj = NULL;
    Py_RETURN_NONE;
}

static PyObject *lock_get_owner_died(LockObject *self, void *closure) {
    (void)closure;
    return PyBool_FromLong(self->owner_died);
}

static PyObject *lock_get_closed(LockObject *self, void *closure) {
    (void)closure;
    return PyBool_FromLong(self->view.obj == NULL);
}

static PyObject *lock_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"buffer", "offset", "init", "repair", NULL};
    PyObject *buffer = NULL, *repair = Py_None;
    Py_ssize_t offset = 0;
    int init = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|n$pO:Lock", kwlist, &buffer, &offset, &init,
                                     &repair))
        return NULL;
    PyObject *module = mmkit_module_of_type(type);
    if (module == NULL)
        return NULL;
    if (repair != Py_None && !PyCallable_Check(repair)) {
        PyErr_Format(PyExc_TypeError, "repair must be callable or None, not '%.200s'",
                     Py_TYPE(repair)->tp_name);
        return NULL;
    }
    mmkit_state *st = mmkit_get_state(module);
    if (PyObject_TypeCheck(buffer, st->mmap_type)) {
        MmapObject *mm = (MmapObject *)buffer;
        if (mmkit_mmap_check_valid(mm) < 0)
            return NULL;
        if (mm->access == PYMM_ACCESS_READ) {
            PyErr_SetString(PyExc_TypeError, "a Lock needs a writable map; this map is read-only");
            return NULL;
        }
        if (mm->access == PYMM_ACCESS_COPY) {
            PyErr_SetString(PyExc_ValueError,
                            "a Lock in an ACCESS_COPY map would be private to this process");
            return NULL;
        }
    }
    if (offset < 0) {
        PyErr_SetString(PyExc_ValueError, "offset must not be negative");
        return NULL;
    }

    LockObject *self = (LockObject *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    Py_INCREF(module);
    self->module = module;
    self->offset = offset;
    if (PyObject_GetBuffer(buffer, &self->view, PyBUF_WRITABLE) < 0) {
        self->view.obj = NULL;
        Py_DECREF(self);
        return NULL;
    }
    const Py_ssize_t size = (Py_ssize_t)sizeof(mmk_mutex);
    if (self->view.len < size || offset > self->view.len - size) {
        PyErr_Format(PyExc_ValueError,
                     "a Lock needs LOCK_SIZE (%zd) bytes at offset %zd, but the buffer is %zd "
                     "bytes long",
                     size, offset, self->view.len);
        Py_DECREF(self);
        return NULL;
    }
    char *at = (char *)self->view.buf + offset;
    if ((uintptr_t)at % 8 != 0) {
        PyErr_Format(PyExc_ValueError,
                     "a Lock must be 8-byte aligned in memory; offset %zd is not (the buffer "
                     "starts at an address that is %d mod 8)",
                     offset, (int)((uintptr_t)self->view.buf % 8));
        Py_DECREF(self);
        return NULL;
    }
    self->mutex = (mmk_mutex *)(void *)at;
    int rc;
    if (init) {
        rc = mutex_guarded(self->mutex, MUTEX_INIT);
    } else {
        /* Memory nobody initialised (a new object is all zeros) would act as
           a plain, non-shared, non-robust mutex on glibc: refuse it. */
        unsigned char copy[sizeof(mmk_mutex)];
        static const unsigned char zeros[sizeof(mmk_mutex)];
        copy_call c = {at, copy};
        rc = mmk_guard_run(copy_lock_bytes, &c);
        if (rc == 0 && memcmp(copy, zeros, sizeof copy) == 0) {
            PyErr_Format(PyExc_ValueError,
                         "no lock at offset %zd: its bytes are all zero. The process that "
                         "created the memory must make it first with Lock(..., init=True)",
                         offset);
            Py_DECREF(self);
            return NULL;
        }
    }
    if (rc < 0) {
        mmkit_error(rc);
        Py_DECREF(self);
        return NULL;
    }
    if (repair != Py_None) {
        Py_INCREF(repair);
        self->repair = repair;
    }
    return (PyObject *)self;
}

static int lock_traverse(LockObject *self, visitproc visit, void *arg) {
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->module);
    Py_VISIT(self->repair);
    Py_VISIT(self->view.obj);
    return 0;
}

/* The pinned memory is not given back here: see lock_dealloc. */
static int lock_clear(LockObject *self) {
    Py_CLEAR(self->repair);
    Py_CLEAR(self->module);
    return 0;
}

static void lock_dealloc(LockObject *self) {
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    if (self->weakreflist != NULL)
        PyObject_ClearWeakRefs((PyObject *)self);
    if (self->view.obj != NULL) {
        if (held_here(self)) {
            /* Still held by a thread of this process (dropped without
               release()): the memory stays pinned, on purpose, because the
               holder's robust-lock list points into it. */
            PyObject *et, *ev, *tb;
            PyErr_Fetch(&et, &ev, &tb);
            if (PyErr_WarnEx(PyExc_ResourceWarning,
                             "mmkit.Lock deleted while held: its memory stays mapped", 1) < 0)
                PyErr_WriteUnraisable((PyObject *)self);
            PyErr_Restore(et, ev, tb);
        } else {
            PyBuffer_Release(&self->view);
        }
    }
    Py_CLEAR(self->repair);
    Py_CLEAR(self->module);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static PyObject *lock_repr(LockObject *self) {
    if (self->view.obj == NULL)
        return PyUnicode_FromFormat("<mmkit.Lock offset=%zd, closed=True>", self->offset);
    return PyUnicode_FromFormat(
        "<mmkit.Lock offset=%zd, closed=False, held=%s, owner_died=%s>", self->offset,
        held_here(self) && self->owner == PyThread_get_thread_ident() ? "True" : "False",
        self->owner_died ? "True" : "False");
}

static PyMethodDef lock_methods[] = {
    {"acquire", METH(lock_acquire), METH_VARARGS | METH_KEYWORDS, lock_acquire_doc},
    {"release", METH(lock_release), METH_NOARGS, lock_release_doc},
    {"consistent", METH(lock_consistent), METH_NOARGS, lock_consistent_doc},
    {"close", METH(lock_close), METH_NOARGS, lock_close_doc},
    {"__enter__", METH(lock_enter), METH_NOARGS,
     "__enter__() -> self\n\nacquire() (blocking, no timeout)."},
    {"__exit__", METH(lock_exit), METH_VARARGS, "__exit__(*exc_info)\n\nrelease()."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef lock_members[] = {
    {"offset", T_PYSSIZET, offsetof(LockObject, offset), READONLY,
     "Where the lock lives in its buffer."},
    {"__weaklistoffset__", T_PYSSIZET, offsetof(LockObject, weakreflist), READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyGetSetDef lock_getset[] = {
    {"owner_died", (getter)lock_get_owner_died, NULL,
     "True between an acquisition that found the previous owner dead and\n"
     "consistent() or release().",
     NULL},
    {"closed", (getter)lock_get_closed, NULL, "True after close().", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyDoc_STRVAR(lock_type_doc,
             "Lock(buffer, offset=0, *, init=False, repair=None)\n"
             "--\n"
             "\n"
             "A robust lock shared between processes, living in LOCK_SIZE bytes of\n"
             "*buffer* (a writable mmkit.mmap of shared memory: shm_open(), or an\n"
             "anonymous map inherited through fork) at *offset* (8-byte aligned).\n"
             "init=True initialises the lock there: once, by the process that created\n"
             "the memory, before any other process uses it. Every other process (and\n"
             "thread) makes its own Lock over the same bytes.\n"
             "\n"
             "The Lock keeps a buffer export of the map until close() (or garbage\n"
             "collection), so the map cannot be closed or resized under it.\n"
             "Ownership is per thread; not re-entrant. Use acquire()/release() or\n"
             "`with lock:`. If a holder dies (even by SIGKILL), the next acquirer gets\n"
             "the lock with the previous owner's half-done state: *repair*, if given,\n"
             "is called as repair(lock) to fix it, else acquire() raises\n"
             "OwnerDiedError; see acquire().");

static PyType_Slot lock_slots[] = {
    {Py_tp_new, lock_new},           {Py_tp_dealloc, lock_dealloc},
    {Py_tp_traverse, lock_traverse}, {Py_tp_clear, lock_clear},
    {Py_tp_repr, lock_repr},         {Py_tp_doc, (void *)lock_type_doc},
    {Py_tp_methods, lock_methods},   {Py_tp_members, lock_members},
    {Py_tp_getset, lock_getset},     {0, NULL},
};

static PyType_Spec lock_spec = {
    .name = "mmkit.Lock",
    .basicsize = sizeof(LockObject),
    .itemsize = 0,
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = lock_slots,
};

/* ------------------------------------------------------------------------ */
/* Registration                                                              */
/* ------------------------------------------------------------------------ */

static PyMethodDef shm_functions[] = {
    {"shm_open", METH(mmkit_shm_open), METH_VARARGS | METH_KEYWORDS, shm_open_doc},
    {"shm_unlink", METH(mmkit_shm_unlink), METH_VARARGS | METH_KEYWORDS, shm_unlink_doc},
    {NULL, NULL, 0, NULL},
};

/* Add a heap type made from `spec` (on `base`, may be NULL) to the module. */
static int add_type(PyObject *m, PyType_Spec *spec, PyObject *base) {
    /* Python 3.9 wants the bases as a tuple; later versions take a type too. */
    PyObject *bases = base != NULL ? PyTuple_Pack(1, base) : NULL;
    if (base != NULL && bases == NULL)
        return -1;
    PyObject *type = PyType_FromModuleAndSpec(m, spec, bases);
    Py_XDECREF(bases);
    if (type == NULL)
        return -1;
    int rc = PyModule_AddType(m, (PyTypeObject *)type);
    Py_DECREF(type);
    return rc;
}

static int add_exception(PyObject *m, const char *attr, const char *qualified, const char *doc) {
    PyObject *exc = PyErr_NewExceptionWithDoc(qualified, doc, PyExc_RuntimeError, NULL);
    if (exc == NULL)
        return -1;
    if (PyModule_AddObject(m, attr, exc) < 0) {
        Py_DECREF(exc);
        return -1;
    }
    return 0;
}

/* Called from the module's exec slot, after the mmap type exists. */
int mmkit_shm_init(PyObject *m) {
    mmkit_state *st = mmkit_get_state(m);
    if (add_type(m, &shm_spec, (PyObject *)st->mmap_type) < 0 || add_type(m, &lock_spec, NULL) < 0)
        return -1;
    if (add_exception(m, "OwnerDiedError", "mmkit.OwnerDiedError",
                      "The previous owner of an mmkit.Lock died holding it. The thread that\n"
                      "gets this holds the lock (.lock): repair the shared state, call\n"
                      "lock.consistent(), carry on.") < 0 ||
        add_exception(m, "LockNotRecoverableError", "mmkit.LockNotRecoverableError",
                      "An mmkit.Lock whose owner died was released without consistent():\n"
                      "it cannot be taken any more.") < 0)
        return -1;
    if (PyModule_AddIntConstant(m, "LOCK_SIZE", (long)sizeof(mmk_mutex)) < 0)
        return -1;
    return PyModule_AddFunctions(m, shm_functions);
}
