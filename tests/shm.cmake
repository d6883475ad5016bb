# Named shared memory and the process-shared robust mutex (src/shm.c).
mmk_add_c_test(test_shm THREADS)
mmk_add_c_test(test_shm_portable THREADS)
