# edit and re-run: gnuplot accuracy_vs_seconds.gp
set terminal pngcairo size 1000,600 noenhanced
set datafile separator ','
set key bottom right
set grid
set style fill transparent solid 0.2 noborder
set ylabel 'test accuracy (%)'
set title 'tp_mnist_lc on fashion-mnist: mean over seeds, min to max shaded'
set arrow from graph 0, first 85 to graph 1, first 85 nohead dashtype 2
set output 'accuracy_vs_seconds.png'
set xlabel 'training seconds'
plot 'curves/1.csv' skip 1 using 5:($3*100):($4*100) with filledcurves lc 1 notitle, 'curves/1.csv' skip 1 using 5:($2*100) with linespoints lc 1 title 'bp=0.001', 'curves/2.csv' skip 1 using 5:($3*100):($4*100) with filledcurves lc 2 notitle, 'curves/2.csv' skip 1 using 5:($2*100) with linespoints lc 2 title 'dtp=0.001', 'curves/3.csv' skip 1 using 5:($3*100):($4*100) with filledcurves lc 3 notitle, 'curves/3.csv' skip 1 using 5:($2*100) with linespoints lc 3 title 'sdtp=0.001', 'curves/4.csv' skip 1 using 5:($3*100):($4*100) with filledcurves lc 4 notitle, 'curves/4.csv' skip 1 using 5:($2*100) with linespoints lc 4 title 'ao_sdtp=0.001'
