package wire

import "testing"

func TestPercentileNearestRank(t *testing.T) {
	ten := []float64{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}
	tests := []struct {
		name    string
		samples []float64
		p       float64
		want    float64
	}{
		{"empty", nil, 50, 0},
		{"one sample", []float64{7}, 99, 7},
		{"median of ten", ten, 50, 5},
		{"p95 of ten", ten, 95, 10},
		{"p10 of ten", ten, 10, 1},
		{"p11 of ten rounds up", ten, 11, 2},
		{"max", ten, 100, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Percentile(tt.samples, tt.p); got != tt.want {
				t.Fatalf("Percentile(%v, %v) = %v, want %v", tt.samples, tt.p, got, tt.want)
			}
		})
	}
	if ten[0] != 10 {
		t.Fatal("Percentile sorted its input in place")
	}
}
