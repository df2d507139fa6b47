module kthena.local/bench/loadgen

go 1.26
